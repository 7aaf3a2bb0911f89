import type { Context, Next } from 'koa';
import { SYSTEM_ERROR_TEXT } from '../domain.js';
import { AppError, isAppError } from '../errors.js';
import { renderTwiml } from '../twilio/twiml.js';
import { webhookState } from './webhook-state.js';

export type { WebhookState } from './webhook-state.js';

/** Maps what body parsers and Koa throw (status-carrying errors) onto our codes. */
export function toAppError(err: unknown): AppError {
  if (isAppError(err)) {
    return err;
  }
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  const type = (err as { type?: unknown }).type;
  if (status === 413 || type === 'entity.too.large') {
    return new AppError('PAYLOAD_TOO_LARGE', 'request body too large', { cause: err });
  }
  if (status === 415 || type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppError('UNSUPPORTED_MEDIA_TYPE', 'unsupported encoding', { cause: err });
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('BAD_REQUEST', 'malformed request', { cause: err });
  }
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

/**
 * The one place that turns errors into responses. Before the signature check: the
 * status with a short reason (never an internal message). After it: 200 with the
 * system-error TwiML, because Twilio shows the patient whatever <Message> we return
 * and treats non-2xx as a failed delivery. Errors are reported through app.emit('error').
 */
export function errorMiddleware() {
  return async function errorToResponse(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (raw) {
      const err = toAppError(raw);
      const state = webhookState(ctx);
      if (state.verified) {
        state.outcome = state.outcome === 'spooled' ? 'spooled' : 'error';
        ctx.status = 200;
        ctx.type = 'text/xml';
        ctx.body = renderTwiml(state.systemErrorText ?? SYSTEM_ERROR_TEXT);
      } else if (state.json) {
        ctx.status = err.status;
        ctx.body = { error: { code: err.code, message: err.expose ? err.message : 'internal error' } };
        if (err.status === 401) {
          ctx.set('WWW-Authenticate', 'Bearer');
        }
        if (err.retryAfterSeconds !== undefined) {
          ctx.set('Retry-After', String(err.retryAfterSeconds));
        }
      } else {
        state.outcome ??= err.code === 'BAD_SIGNATURE' || err.code === 'MISSING_SIGNATURE' ? 'forbidden' : 'rejected';
        ctx.status = err.status;
        ctx.type = 'text/plain';
        ctx.body = err.expose ? err.message : 'internal error';
      }
      if (err.status >= 500 || state.verified) {
        ctx.app.emit('error', err, ctx);
      }
    }
  };
}
