import type { SignedHeaders } from './signer.js';

/** What one attempt got back. */
export type PostResult = { kind: 'answer'; status: number; retryAfter: string | null } | { kind: 'timeout' } | { kind: 'network'; reason: string };

/**
 * POSTs one signed event. Redirects are not followed (a 3xx is a failed attempt: the
 * signed URL is the configured one). The response body is not read beyond what the
 * connection needs: only the status counts.
 * @param url - the endpoint
 * @param headers - the Standard Webhooks headers
 * @param body - the JSON envelope
 * @param timeoutMs - the whole request's limit (15 s in production)
 * @param abort - aborted when the dispatcher is killed
 */
export async function postEvent(url: string, headers: SignedHeaders, body: string, timeoutMs: number, abort?: AbortSignal): Promise<PostResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = abort ? AbortSignal.any([timeout, abort]) : timeout;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'clinic-sms-events/1' },
      body,
      redirect: 'manual',
      signal,
    });
    await res.body?.cancel().catch(() => undefined);
    return { kind: 'answer', status: res.status, retryAfter: res.headers.get('retry-after') };
  } catch (err) {
    if (timeout.aborted) {
      return { kind: 'timeout' };
    }
    const cause = (err as { cause?: { code?: unknown } }).cause;
    return { kind: 'network', reason: typeof cause?.code === 'string' ? cause.code : (err as Error).name };
  }
}
