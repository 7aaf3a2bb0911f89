import { Webhook } from 'standardwebhooks';

/** The Standard Webhooks request headers. */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * Signs one attempt with every secret given (the current one first, then the previous
 * one during a rotation), so a receiver holding either verifies it: the
 * `webhook-signature` header lists one `v1,<base64>` a secret, space-separated, as
 * the Standard Webhooks specification allows.
 * @param secrets - `whsec_<base64>` secrets, at least one
 * @param id - the webhook-id (the same on every attempt)
 * @param at - the attempt time (webhook-timestamp)
 * @param body - the exact request body
 */
export function signEvent(secrets: readonly string[], id: string, at: Date, body: string): SignedHeaders {
  if (secrets.length === 0) {
    throw new Error('no signing secret');
  }
  const signature = secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' ');
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}
