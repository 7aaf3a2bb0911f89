import { performance } from 'node:perf_hooks';
import type { InboundMessage, MessageRecord, MessageStatus } from '../domain.js';
import { AppError, isAppError } from '../errors.js';
import { lazyChild, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { maskPhone } from '../phone.js';
import { ALWAYS_PROCESSED_ACTIONS, applyDecision, decide, keepActions } from '../rules/evaluate.js';
import type { Store, RateWindow } from '../store/store.js';
import type { Snapshot } from './live-config.js';

export interface PipelineDeps {
  store: Store;
  logger: Logger;
  metrics: Metrics;
  clock: () => Date;
  /** How long a repeated delivery waits for the first one to finish, ms. */
  duplicateWaitMs?: number;
  /**
   * Aborted when the caller gave up (the webhook's deadline: the message was spooled and
   * the system-error text sent). The pipeline then stops at its next step without writing
   * a completion, so the record never claims a reply that was not sent; the replay takes
   * the unfinished record over.
   */
  signal?: { readonly aborted: boolean };
  /** The HTTP request's id, for the pipeline's log lines. */
  requestId?: string;
}

export interface PipelineResult {
  status: MessageStatus;
  /** The text to send back (null: an empty <Response/>). */
  reply: string | null;
  clinicId: string | null;
  /** What ran, for the webhook's one log line a request (no PHI: rule and action names). */
  summary?: { sid: string; sender: string; rules: string[]; actions: string[] };
}

/** A fixed one-minute window: the key and when its counter is no longer needed. */
export function rateWindow(now: Date): RateWindow {
  const minute = Math.floor(now.getTime() / 60_000);
  return { key: String(minute), expiresAt: new Date((minute + 2) * 60_000) };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The path of one signature-checked message: claim its MessageSid, resolve the clinic,
 * count it against the sender's rate limit, decide with the clinic's rules, run the
 * actions, and complete the audit record. Throws on store or rules failures (after
 * recording the error when it can); the HTTP layer turns that into the system-error reply.
 * @param deps - store, logger, metrics, clock
 * @param snapshot - clinics and rules live when the request arrived
 * @param message - the normalized message
 * @param mode - 'webhook', or 'replay' of a spooled message (no reply is sent; a half-done record is taken over)
 */
export async function handleMessage(
  deps: PipelineDeps,
  snapshot: Snapshot,
  message: InboundMessage,
  mode: 'webhook' | 'replay' = 'webhook',
  receivedAt: Date = deps.clock(),
): Promise<PipelineResult> {
  const started = performance.now();
  const log = lazyChild(deps.logger, () => ({
    ...(deps.requestId === undefined ? {} : { requestId: deps.requestId }),
    sid: message.messageSid,
    sender: maskPhone(message.from),
    mode,
  }));
  const clinic = snapshot.clinics.byNumber.get(message.to) ?? null;
  const record: MessageRecord = {
    messageSid: message.messageSid,
    clinicId: clinic?.id ?? null,
    message,
    receivedAt,
    status: 'received',
    patientIds: [],
    rulesFired: [],
    actions: [],
    reply: null,
    via: mode,
  };
  if (clinic && message.media.length > 0) {
    // The media relay finds it by this flag: no command is added to the webhook's path.
    record.mediaPending = true;
  }

  /** Completes the record of a message on which no rule ran (rejected, rate-limited, error). */
  const finishEmpty = (status: MessageStatus, extra: { patientIds?: string[]; error?: string } = {}): Promise<void> =>
    deps.store.completeMessage(message.messageSid, {
      status,
      patientIds: extra.patientIds ?? [],
      rulesFired: [],
      actions: [],
      reply: null,
      completedAt: deps.clock(),
      timings: { totalMs: round(performance.now() - started) },
      ...(extra.error === undefined ? {} : { error: extra.error }),
    });
  const checkpoint = (): void => {
    if (deps.signal?.aborted) {
      throw new AppError('STORE_UNAVAILABLE', 'the caller gave up on this message (spooled for replay)');
    }
  };
  const claim = await deps.store.claimMessage(record);
  checkpoint();
  if (!claim.claimed) {
    const existing = claim.existing;
    // A record left in error (or, for a replay, one that never finished) is taken over:
    // the actions are idempotent by MessageSid, so running them again is safe.
    const takeOver = existing.status === 'error' || (mode === 'replay' && existing.status === 'received');
    if (!takeOver && mode === 'replay') {
      // The webhook gave up on this message (and spooled it) while its pipeline went on to
      // finish once the database answered: the actions ran once, but the patient got the
      // system-error text, not the reply the record names. Make the record say so.
      if (existing.reply !== null) {
        await deps.store.completeMessage(message.messageSid, {
          status: existing.status,
          patientIds: existing.patientIds,
          rulesFired: existing.rulesFired,
          actions: existing.actions,
          reply: null,
          error: 'reply-not-sent',
        });
      }
      log.info({ firstStatus: existing.status }, 'replay: already handled');
      return { status: 'duplicate', reply: null, clinicId: existing.clinicId };
    }
    if (!takeOver) {
      deps.metrics.duplicates.inc();
      log.info({ firstStatus: existing.status }, 'repeated delivery: answering with the stored reply');
      if (mode === 'webhook') {
        // The repeat is a request too: the audit trail notes it on the one record of the MessageSid.
        await deps.store.recordDuplicate(message.messageSid, receivedAt);
      }
      const settled = existing.status === 'received' ? await waitForCompletion(deps, existing) : existing;
      return { status: 'duplicate', reply: settled.reply, clinicId: existing.clinicId };
    }
    log.info({ firstStatus: existing.status }, 'taking over an unfinished record');
  }

  if (!clinic) {
    deps.metrics.unknownClinic.inc();
    log.error({ clinicNumber: maskPhone(message.to) }, 'message to a number no clinic owns');
    await finishEmpty('rejected', { error: 'unknown-clinic' });
    return { status: 'rejected', reply: null, clinicId: null };
  }

  try {
    const rules = snapshot.rules.get(clinic.id);
    if (!rules) {
      throw new AppError('RULES_INVALID', `no rules loaded for clinic ${clinic.id}`);
    }
    const now = deps.clock();
    const tStore = performance.now();
    // One command: the message is counted (in the window of the minute it arrived: a replay
    // counts a flood sent during an outage as it was sent), and the sender's opt-out state
    // and patients come back with the count.
    const sender = await deps.store.touchSender(clinic.id, message.from, rateWindow(receivedAt));
    const patients = sender.patients;
    const storeMs = performance.now() - tStore;
    const input = { clinic, message, patients, optedOut: sender.optedOut, now, store: deps.store };
    const tRules = performance.now();
    const decision = await decide(rules, input);
    const patientIds = patients.map((p) => p.id);
    const overLimit = sender.count > clinic.rateLimitPerMinute;
    const rateLimited = overLimit && !decision.events.some((e) => ALWAYS_PROCESSED_ACTIONS.has(e.type));
    checkpoint();
    if (rateLimited) {
      deps.metrics.rateLimited.inc({ clinic: clinic.id });
      log.warn({ clinic: clinic.id, count: sender.count }, 'sender over the rate limit: no reply');
      await finishEmpty('rate-limited', { patientIds });
      return { status: 'rate-limited', reply: null, clinicId: clinic.id };
    }
    // Over the limit, STOP/START/HELP are still honoured, and nothing else the rules asked for runs.
    const outcome = await applyDecision(rules, overLimit ? keepActions(decision, ALWAYS_PROCESSED_ACTIONS) : decision, input);
    const rulesMs = performance.now() - tRules;
    for (const action of outcome.actions) {
      deps.metrics.actions.inc({ action: action.type, outcome: action.outcome });
    }
    const status: MessageStatus = mode === 'replay' ? 'replayed' : patients.length === 0 ? 'unknown-number' : 'processed';
    // A replayed message's patient already got the system-error text: nothing more is sent.
    const reply = mode === 'replay' ? null : outcome.reply;
    checkpoint();
    await deps.store.completeMessage(message.messageSid, {
      status,
      patientIds,
      rulesFired: outcome.rulesFired,
      actions: outcome.actions,
      reply,
      completedAt: deps.clock(),
      timings: { totalMs: round(performance.now() - started), storeMs: round(storeMs), rulesMs: round(rulesMs) },
    });
    const summary = { sid: message.messageSid, sender: maskPhone(message.from), rules: outcome.rulesFired, actions: outcome.actions.map((a) => `${a.type}:${a.outcome}`) };
    if (mode !== 'webhook') {
      // A webhook request's line (create-app.ts) carries this summary: one line a request.
      log.info({ clinic: clinic.id, status, rules: summary.rules, actions: summary.actions }, 'message handled');
    }
    return { status, reply, clinicId: clinic.id, summary };
  } catch (err) {
    const code = isAppError(err) ? err.code : ((err as { code?: unknown }).code as string | undefined) ?? 'INTERNAL';
    // Best effort: the record says it failed, unless the store itself is what failed. When it
    // is unreachable, trying again would only spend the caller's time budget (the webhook must
    // answer within 5 s and spool the message); a replay takes the unfinished record over.
    if (code === 'STORE_UNAVAILABLE') {
      throw err;
    }
    await finishEmpty('error', { error: String(code) }).catch(() => undefined);
    throw err;
  }
}

async function waitForCompletion(deps: PipelineDeps, first: MessageRecord): Promise<MessageRecord> {
  const deadline = Date.now() + (deps.duplicateWaitMs ?? 4000);
  let current = first;
  while (current.status === 'received' && Date.now() < deadline) {
    await sleep(25);
    current = (await deps.store.getMessage(first.messageSid)) ?? current;
  }
  return current;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
