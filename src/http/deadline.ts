import type { Context, Middleware, Next } from 'koa';
import type { InboundMessage } from '../domain.js';
import { webhookState } from './webhook-state.js';
import { errorCode } from '../errors.js';
import { renderTwiml } from '../twilio/twiml.js';

/** Where messages go when the database cannot take them (the outage spool). */
export interface SpoolSink {
  /**
   * Keeps the message; resolves with the answer to give instead of the system-error text
   * when there is one (a spooled STOP or START: its normal confirmation; a number whose
   * opt-out waits in the spool: no text at all), else with nothing.
   */
  append(message: InboundMessage, receivedAt: Date): Promise<unknown>;
}

/**
 * Middleware: when what follows fails because the store is unavailable (down, or past the
 * deadline), the message goes to the durable spool before the error answers the system-error
 * text; the replayer processes it once the database is back. Without a spool the error
 * simply answers.
 * @param spool - the outage spool, if any
 */
export function spoolWhenStoreUnavailable(spool: SpoolSink | undefined): Middleware {
  return async function spoolWhenStoreUnavailable(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const state = webhookState(ctx);
      if (errorCode(err) === 'STORE_UNAVAILABLE' && spool && state.inbound && state.receivedAt) {
        const answer = await spool.append(state.inbound, state.receivedAt);
        state.outcome = 'spooled';
        if (typeof answer === 'object' && answer !== null && 'reply' in answer) {
          ctx.status = 200;
          ctx.type = 'text/xml';
          ctx.body = renderTwiml((answer as { reply: string | null }).reply);
          return;
        }
      }
      throw err;
    }
  };
}
