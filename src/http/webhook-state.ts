import type { InboundMessage } from '../domain.js';
import type { Snapshot } from '../service/live-config.js';

/** ctx.state the webhook route fills in as it goes, step by step. */
export interface WebhookState {
  /** Set once the message is signature-checked and well-formed: from then on every failure answers TwiML. */
  verified?: boolean;
  /** The system-error text for this request's clinic (seed text until known). */
  systemErrorText?: string;
  outcome?: string;
  /** The server's own id of the request (never the client's). */
  requestId?: string;
  /** The X-Request-Id the client sent, if any (kept beside ours, cut to 100 characters). */
  clientRequestId?: string;
  /** The clinics, rules and tokens this request runs with, taken once at its start (a reload never mixes two versions). */
  snapshot?: Snapshot;
  /** The signature-checked, normalized message. */
  inbound?: InboundMessage;
  /** When the message arrived (kept through the spool). */
  receivedAt?: Date;
  /** The handled message's clinic and summary (MessageSid, masked sender, rules, actions), for the request's log line. */
  clinicId?: string | null;
  message?: { sid: string; sender: string; rules: string[]; actions: string[] } | undefined;
  /** A JSON API route (the staff API): errors answer `{ error: { code, message } }`. */
  json?: boolean;
}

/** ctx.state as the webhook's steps see it. */
export function webhookState(ctx: { state: unknown }): WebhookState {
  return ctx.state as WebhookState;
}
