import type { Context, Middleware, Next } from 'koa';
import type { InboundMessage } from '../domain.js';
import { webhookState } from './webhook-state.js';
import { errorCode } from '../errors.js';

/** Where messages go when the database cannot take them (the outage spool). */
export interface SpoolSink {
  append(message: InboundMessage, receivedAt: Date): Promise<void>;
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
        await spool.append(state.inbound, state.receivedAt);
        state.outcome = 'spooled';
      }
      throw err;
    }
  };
}
