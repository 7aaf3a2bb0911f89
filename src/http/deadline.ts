import type { Context, Middleware, Next } from 'koa';
import type { InboundMessage } from '../domain.js';
import { AppError } from '../errors.js';
import { webhookState } from './webhook-state.js';

/** Where messages go when the database cannot take them (the outage spool). */
export interface SpoolSink {
  append(message: InboundMessage, receivedAt: Date): Promise<void>;
}

/**
 * Rejects with STORE_UNAVAILABLE when `work` is not done within `ms`, and marks `giveUp`
 * so the work stops at its next step (replay is idempotent). A plain flag and one timer:
 * an AbortController per request cost more than the rest of this function.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, giveUp: { aborted: boolean }): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      giveUp.aborted = true;
      reject(new AppError('STORE_UNAVAILABLE', `the message pipeline did not finish within ${ms} ms`));
    }, ms);
    // After the deadline, a late result or failure is not this request's any more (settling twice is a no-op).
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
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
      if ((err as { code?: unknown }).code === 'STORE_UNAVAILABLE' && spool && state.inbound && state.receivedAt) {
        await spool.append(state.inbound, state.receivedAt);
        state.outcome = 'spooled';
      }
      throw err;
    }
  };
}

/**
 * Middleware: what follows must finish within `ms`, or the request fails with
 * STORE_UNAVAILABLE and `state.giveUp` tells the pipeline to stop at its next step.
 * @param ms - the pipeline deadline
 */
export function withinDeadline(ms: number): Middleware {
  return async function withinDeadline(ctx: Context, next: Next): Promise<void> {
    const giveUp = { aborted: false };
    webhookState(ctx).giveUp = giveUp;
    await withDeadline(next(), ms, giveUp);
  };
}
