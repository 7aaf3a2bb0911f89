import type { Context, Middleware, Next } from 'koa';
import { SYSTEM_ERROR_TEXT, type StaffRouting } from '../domain.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { answerInTime, type AnswersInFlight } from '../service/answer-in-time.js';
import type { Snapshot } from '../service/live-config.js';
import type { Store } from '../store/store.js';
import { isFormParams } from '../twilio/form-params.js';
import { toInboundMessage } from '../twilio/inbound-message.js';
import { renderTwiml } from '../twilio/twiml.js';
import { webhookState } from './webhook-state.js';

type ClinicRules = Snapshot['rules'] extends ReadonlyMap<string, infer R> ? R : never;

/**
 * Middleware: the signature-checked form becomes an InboundMessage (400 with a short reason
 * when malformed). From here on the request is Twilio's and well-formed: any failure answers
 * the clinic's system-error TwiML.
 * @param deps - the clock that stamps its arrival, and where the clinic's system-error text comes from
 */
export function normalizeMessage(deps: { clock: () => Date; systemErrorText: (rules: ClinicRules | undefined) => string }): Middleware {
  return async function normalizeMessage(ctx: Context, next: Next): Promise<void> {
    const state = webhookState(ctx);
    const form = ctx.request.body;
    if (!isFormParams(form) || !state.snapshot) {
      throw new AppError('BAD_REQUEST', 'empty form');
    }
    const message = toInboundMessage(form);
    const clinic = state.snapshot.clinics.byNumber.get(message.to);
    state.inbound = message;
    state.verified = true;
    state.systemErrorText = deps.systemErrorText(clinic ? state.snapshot.rules.get(clinic.id) : undefined);
    state.receivedAt = deps.clock();
    await next();
  };
}

/**
 * Middleware, the route's last step: runs the message pipeline within the deadline and
 * answers its TwiML: the reply, or the system-error text when that is what every delivery
 * of the MessageSid answers (service/answer-in-time.ts). Past the deadline it throws
 * STORE_UNAVAILABLE: the message is spooled and the system-error text answered.
 * @param deps - what the pipeline needs, and the deadline (ms)
 */
export function answerMessage(deps: {
  store: Store;
  staff: StaffRouting;
  logger: Logger;
  metrics: Metrics;
  clock: () => Date;
  deadlineMs: number;
  /** True while an opt-out from this number waits in the outage spool: only consent messages are answered. */
  held?: (clinicId: string, phone: string) => boolean;
}): Middleware {
  const inFlight: AnswersInFlight = new Map();
  return async function answerMessage(ctx: Context): Promise<void> {
    const state = webhookState(ctx);
    if (!state.inbound || !state.snapshot || !state.receivedAt) {
      throw new AppError('INTERNAL', 'the webhook route is missing a step');
    }
    const result = await answerInTime(
      { store: deps.store, staff: deps.staff, logger: deps.logger, metrics: deps.metrics, clock: deps.clock, requestId: state.requestId, inFlight },
      state.snapshot,
      state.inbound,
      state.receivedAt,
      deps.deadlineMs,
    );
    state.outcome = result.status;
    state.clinicId = result.clinicId;
    state.message = result.summary;
    ctx.status = 200;
    ctx.type = 'text/xml';
    // An opt-out from this number waits in the spool: nothing else is texted to it until it is applied.
    const held = result.clinicId !== null && deps.held?.(result.clinicId, state.inbound.from) === true && !result.summary?.actions.some((a) => /^opt-(in|out):/.test(a));
    ctx.body = renderTwiml(held ? null : result.systemError === true ? (state.systemErrorText ?? SYSTEM_ERROR_TEXT) : result.reply);
  };
}
