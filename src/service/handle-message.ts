import { performance } from 'node:perf_hooks';
import type { Clinic, InboundMessage, MessageCompletion, MessageRecord, MessageStatus, SenderState, StaffRouting } from '../domain.js';
import { AppError, errorCode } from '../errors.js';
import { produceEvents } from '../events/produce-events.js';
import { lazyChild, type FieldLogger, type Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { maskPhone } from '../phone.js';
import type { CompiledRules } from '../rules/compile.js';
import { decide, type Decision, type EvaluationInput } from '../rules/evaluate.js';
import type { Store, RateWindow } from '../store/store.js';
import { ALWAYS_PROCESSED_ACTIONS, applyDecision, keepActions, type Outcome } from './apply-decision.js';
import { brokenClinicFor, type BrokenClinic, type Snapshot } from './live-config.js';
import { settleChoice } from './family-choice.js';
import { toStaff, trackRouting, unknownNumberReachesStaff } from './reach-staff.js';

export interface PipelineDeps {
  store: Store;
  /** Where messages for staff go: the conversations (routed by a rule, unknown number, over the rate limit). */
  staff: StaffRouting;
  logger: Logger;
  metrics: Metrics;
  clock: () => Date;
  /**
   * The webhook's answer deadline, ms (default WEBHOOK_DEADLINE_MS): a repeated delivery
   * waits for the first delivery's decision until the first's deadline has passed.
   */
  deadlineMs?: number;
  /**
   * Aborted when the caller gave up (the webhook's deadline: the message was spooled and
   * the system-error text sent). The pipeline then stops at its next step without writing
   * a completion, so the record never claims a reply that was not sent; the replay takes
   * the unfinished record over. The pipeline notes its role on it once the claim is decided.
   */
  signal?: PipelineSignal;
  /** The HTTP request's id, for the pipeline's log lines. */
  requestId?: string;
}

/** What the webhook and the pipeline share about one delivery. */
export interface PipelineSignal {
  readonly aborted: boolean;
  /** Set once the claim is decided: this delivery owns the record, or repeats a delivery that does. */
  role?: 'owner' | 'repeat';
}

/**
 * How long the webhook gives a delivery before it answers, ms: Twilio waits 15 s, but a
 * database that hangs must not hold the patient's answer longer than 5 s.
 */
export const WEBHOOK_DEADLINE_MS = 4500;

export interface PipelineResult {
  status: MessageStatus;
  /** The text to send back (null: an empty <Response/>). */
  reply: string | null;
  /** Answer the clinic's system-error text instead (what the first delivery of a repeat answered). */
  systemError?: boolean;
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

type Mode = 'webhook' | 'replay';

/** One message on its way through the pipeline. */
interface Run {
  deps: PipelineDeps;
  message: InboundMessage;
  mode: Mode;
  receivedAt: Date;
  /** performance.now() at the start, for the record's timings. */
  started: number;
  log: FieldLogger;
}

/**
 * Everything that differs between a message from the webhook and one replayed from the
 * outage spool (whose patient already got the system-error text).
 */
const MODES: Readonly<Record<Mode, {
  /** Whether this run takes over a record left in `status` (the actions are idempotent by MessageSid). */
  takesOver(status: MessageStatus): boolean;
  /** The answer to a repeat of a message whose record is not taken over. */
  answerRepeat(run: Run, existing: MessageRecord): Promise<PipelineResult>;
  /** The status a handled message is recorded with. */
  handledStatus(patients: number): MessageStatus;
  /** Whether the rules' reply is sent (and so recorded). */
  sendsReply: boolean;
  /** Whether the pipeline writes its own 'message handled' line (a webhook request's line is the HTTP layer's). */
  logsOutcome: boolean;
}>> = {
  webhook: {
    takesOver: (status) => status === 'error',
    answerRepeat: answerRepeatedDelivery,
    handledStatus: (patients) => (patients === 0 ? 'unknown-number' : 'processed'),
    sendsReply: true,
    logsOutcome: false,
  },
  replay: {
    // A record still 'received' is one whose webhook gave up on it (and spooled it).
    takesOver: (status) => status === 'error' || status === 'received',
    answerRepeat: answerReplayOfFinished,
    handledStatus: () => 'replayed',
    sendsReply: false,
    logsOutcome: true,
  },
};

/**
 * The path of one signature-checked message: claim its MessageSid (or take over a record
 * left unfinished), reject a message to a number no clinic owns, count the sender against
 * the rate limit, decide with the clinic's rules, run the actions, and complete the audit
 * record. Throws on store or rules failures (after recording the error when it can); the
 * HTTP layer turns that into the system-error reply.
 * @param deps - store, logger, metrics, clock
 * @param snapshot - clinics and rules live when the request arrived
 * @param message - the normalized message
 * @param mode - 'webhook', or 'replay' of a spooled message (see MODES)
 */
export async function handleMessage(
  deps: PipelineDeps,
  snapshot: Snapshot,
  message: InboundMessage,
  mode: Mode = 'webhook',
  receivedAt: Date = deps.clock(),
): Promise<PipelineResult> {
  const run = startRun(deps, message, mode, receivedAt);
  const clinic = snapshot.clinics.byNumber.get(message.to) ?? null;
  // A clinic whose configuration is invalid: its messages are recorded under it, never lost.
  const broken = clinic ? undefined : brokenClinicFor(snapshot, message.to);
  const repeat = await claimOrTakeOver(run, clinic?.id ?? broken?.clinicId ?? null, clinic !== null);
  if (repeat) {
    return repeat;
  }
  if (broken) {
    return failBrokenClinic(run, broken);
  }
  if (!clinic) {
    return rejectUnknownClinic(run);
  }
  try {
    const rules = snapshot.rules.get(clinic.id);
    if (!rules) {
      throw new AppError('RULES_INVALID', `no rules loaded for clinic ${clinic.id}`);
    }
    const now = deps.clock();
    const { sender, storeMs } = await countSender(run, clinic);
    const tRules = performance.now();
    const input = { clinic, message, patients: sender.patients, optedOut: sender.optedOut, now, receivedAt: run.receivedAt, store: deps.store, sender };
    const decision = await decide(rules, input);
    const overLimit = sender.count > clinic.rateLimitPerMinute;
    checkpoint(run);
    if (overLimit && !decision.events.some((e) => ALWAYS_PROCESSED_ACTIONS.has(e.type))) {
      return await finishRateLimited(run, clinic, sender, input);
    }
    const outcome = await act(run, rules, overLimit ? keepActions(decision, ALWAYS_PROCESSED_ACTIONS) : decision, input);
    return await complete(run, clinic, sender, outcome, { storeMs, rulesMs: performance.now() - tRules }, now);
  } catch (err) {
    await recordFailure(run, err);
    throw err;
  }
}

function startRun(deps: PipelineDeps, message: InboundMessage, mode: Mode, receivedAt: Date): Run {
  const log = lazyChild(deps.logger, () => ({
    ...(deps.requestId === undefined ? {} : { requestId: deps.requestId }),
    sid: message.messageSid,
    sender: maskPhone(message.from),
    mode,
  }));
  return { deps, message, mode, receivedAt, started: performance.now(), log };
}

/** Stops at the next step when the caller gave up, so the record never claims a reply that was not sent. */
function checkpoint(run: Run): void {
  if (run.deps.signal?.aborted) {
    throw new AppError('STORE_UNAVAILABLE', 'the caller gave up on this message (spooled for replay)');
  }
}

/**
 * Claims the MessageSid with a new record, or takes over one left unfinished (see MODES).
 * A message with media to a served clinic is marked for the media relay in the same insert.
 * @returns null when this run owns the record; else the answer to a repeat
 */
async function claimOrTakeOver(run: Run, clinicId: string | null, knownClinic: boolean): Promise<PipelineResult | null> {
  const { deps, message, mode, receivedAt } = run;
  const claim = await deps.store.claimMessage({
    messageSid: message.messageSid,
    clinicId,
    message,
    receivedAt,
    status: 'received',
    patientIds: [],
    rulesFired: [],
    actions: [],
    reply: null,
    via: mode,
    // The media relay finds a message with media by this flag: no command is added to the webhook's path.
    ...(knownClinic && message.media.length > 0 ? { mediaPending: true as const } : {}),
  });
  checkpoint(run);
  if (claim.claimed) {
    noteRole(run, 'owner');
    return null;
  }
  if (!MODES[mode].takesOver(claim.existing.status)) {
    noteRole(run, 'repeat');
    return MODES[mode].answerRepeat(run, claim.existing);
  }
  noteRole(run, 'owner');
  run.log.info({ firstStatus: claim.existing.status }, 'taking over an unfinished record');
  // The message counts as sent when it first reached us, whichever delivery or replay finishes it.
  run.receivedAt = claim.existing.receivedAt;
  return null;
}

function noteRole(run: Run, role: 'owner' | 'repeat'): void {
  if (run.deps.signal) {
    run.deps.signal.role = role;
  }
}

/**
 * A repeated delivery from Twilio: answered with exactly what the first delivery answered,
 * as its record says once settled (completed, or given up at the first's deadline). It waits
 * for that decision rather than racing it: until the first delivery's deadline has passed.
 * A record still unsettled then means the first delivery answered the system-error text
 * without reaching the database, so that is the answer here too.
 */
async function answerRepeatedDelivery(run: Run, existing: MessageRecord): Promise<PipelineResult> {
  run.deps.metrics.duplicates.inc();
  run.log.info({ firstStatus: existing.status }, 'repeated delivery: answering as the first delivery did');
  // The repeat is a request too: the audit trail notes it on the one record of the MessageSid.
  await run.deps.store.recordDuplicate(run.message.messageSid, run.receivedAt);
  const settled = isSettled(existing) ? existing : await waitUntilSettled(run, existing);
  if (!settled || answeredSystemError(settled)) {
    return { status: 'duplicate', reply: null, systemError: true, clinicId: existing.clinicId };
  }
  return { status: 'duplicate', reply: settled.reply, clinicId: existing.clinicId };
}

/** The first delivery's answer is decided: completed, or given up at its deadline. */
const isSettled = (record: MessageRecord): boolean => record.status !== 'received' || record.gaveUpAt !== undefined;

/**
 * The webhook answered this record's message with the system-error text: it gave up at its
 * deadline, or the database was down at the first delivery and the record is the replay's.
 */
const answeredSystemError = (record: MessageRecord): boolean => record.gaveUpAt !== undefined || record.via === 'replay';

/**
 * Reads the record until it is settled, or null once the first delivery's deadline (its
 * receivedAt + deadlineMs, with a poll's margin) has passed. The caller's own deadline comes
 * after the first's (it arrived later); the webhook cuts off a read that hangs.
 */
async function waitUntilSettled(run: Run, first: MessageRecord): Promise<MessageRecord | null> {
  const firstAnswersBy = first.receivedAt.getTime() + (run.deps.deadlineMs ?? WEBHOOK_DEADLINE_MS) + POLL_MS;
  for (;;) {
    await sleep(POLL_MS);
    const current = await run.deps.store.getMessage(first.messageSid);
    if (current && isSettled(current)) {
      return current;
    }
    if (run.deps.clock().getTime() > firstAnswersBy) {
      return null;
    }
  }
}

const POLL_MS = 25;

/**
 * A replay of a message that is already handled. When the webhook gave up on it (and spooled
 * it) while its pipeline went on to finish once the database answered, the actions ran once
 * but the patient got the system-error text, not the reply the record names: the record is
 * made to say so.
 */
async function answerReplayOfFinished(run: Run, existing: MessageRecord): Promise<PipelineResult> {
  if (existing.reply !== null || !answeredSystemError(existing)) {
    // Repeats from now on answer the system-error text too (answeredSystemError).
    await run.deps.store.completeMessage(run.message.messageSid, {
      status: existing.status,
      patientIds: existing.patientIds,
      rulesFired: existing.rulesFired,
      actions: existing.actions,
      reply: null,
      ...(existing.reply === null ? {} : { error: 'reply-not-sent' }),
      gaveUpAt: existing.gaveUpAt ?? run.deps.clock(),
    });
  }
  run.log.info({ firstStatus: existing.status }, 'replay: already handled');
  return { status: 'duplicate', reply: null, clinicId: existing.clinicId };
}

/** Recorded as an error of the clinic, then thrown: the HTTP layer answers the system-error text. */
async function failBrokenClinic(run: Run, broken: BrokenClinic): Promise<never> {
  const err = new AppError('CONFIG_INVALID', `clinic ${broken.name} is not served: its configuration is invalid`);
  run.log.error({ clinic: broken.name }, 'message to a clinic whose configuration is invalid: recorded, answered with the system-error text');
  await recordFailure(run, err);
  throw err;
}

async function rejectUnknownClinic(run: Run): Promise<PipelineResult> {
  run.deps.metrics.unknownClinic.inc();
  run.log.error({ clinicNumber: maskPhone(run.message.to) }, 'message to a number no clinic owns');
  await finishEmpty(run, 'rejected', { error: 'unknown-clinic' });
  return { status: 'rejected', reply: null, clinicId: null };
}

/**
 * One command: the message is counted (in the window of the minute it arrived: a replay
 * counts a flood sent during an outage as it was sent), and the sender's opt-out state and
 * patients come back with the count.
 */
async function countSender(run: Run, clinic: Clinic): Promise<{ sender: SenderState; storeMs: number }> {
  const t = performance.now();
  const sender = await run.deps.store.touchSender(clinic.id, run.message.from, rateWindow(run.receivedAt));
  return { sender, storeMs: performance.now() - t };
}

/** Over the limit, and no STOP/START/HELP among the events: nothing the rules asked for runs, and staff see the message. */
async function finishRateLimited(run: Run, clinic: Clinic, sender: SenderState, input: EvaluationInput): Promise<PipelineResult> {
  run.deps.metrics.rateLimited.inc({ clinic: clinic.id });
  run.log.warn({ clinic: clinic.id, count: sender.count }, 'sender over the rate limit: no reply');
  await run.deps.staff.routed(toStaff(input, 'over-limit'));
  checkpoint(run);
  await finishEmpty(run, 'rate-limited', { patientIds: sender.patients.map((p) => p.id) });
  return { status: 'rate-limited', reply: null, clinicId: clinic.id };
}

/** Runs the actions; a message from an unknown number then goes to staff too (reach-staff.ts). */
async function act(run: Run, rules: CompiledRules, decision: Decision, input: EvaluationInput): Promise<Outcome> {
  const staff = trackRouting(run.deps.staff);
  const outcome = await applyDecision(rules, decision, input, { staff });
  for (const action of outcome.actions) {
    run.deps.metrics.actions.inc({ action: action.type, outcome: action.outcome });
  }
  if (unknownNumberReachesStaff(input, outcome, staff)) {
    checkpoint(run);
    await staff.routed(toStaff(input, 'unknown-number'));
  }
  await settleChoice(input, decision, outcome);
  if (outcome.replyTemplate !== undefined && rules.rememberedReplies.has(outcome.replyTemplate) && MODES[run.mode].sendsReply) {
    // sender.recentReplies: this automatic reply goes out now (only kinds a rule asks about cost this write).
    await input.store.noteAutoReply(input.clinic.id, input.message.from, outcome.replyTemplate, input.now);
  }
  return outcome;
}

/** Completes the audit record of a handled message, and says what ran. */
async function complete(
  run: Run,
  clinic: Clinic,
  sender: SenderState,
  outcome: Outcome,
  timings: { storeMs: number; rulesMs: number },
  actedAt: Date,
): Promise<PipelineResult> {
  const mode = MODES[run.mode];
  const status = mode.handledStatus(sender.patients.length);
  const reply = mode.sendsReply ? outcome.reply : null;
  const patientIds = sender.patients.map((p) => p.id);
  // The events ride in the completion write: the durable outbox, no extra command (docs/events.md).
  const outbox = produceEvents({ clinicId: clinic.id, messageSid: run.message.messageSid, from: run.message.from, patientIds, receivedAt: run.receivedAt, at: actedAt, actions: outcome.actions });
  checkpoint(run);
  await settle(run, {
    status,
    patientIds,
    rulesFired: outcome.rulesFired,
    actions: outcome.actions,
    reply,
    completedAt: run.deps.clock(),
    timings: { totalMs: round(performance.now() - run.started), storeMs: round(timings.storeMs), rulesMs: round(timings.rulesMs) },
    ...(outbox.length > 0 ? { outbox } : {}),
    ...(outcome.choice ? { choice: outcome.choice } : {}),
    ...(outcome.possibleOptOut ? { possibleOptOut: true as const } : {}),
  });
  const summary = { sid: run.message.messageSid, sender: maskPhone(run.message.from), rules: outcome.rulesFired, actions: outcome.actions.map((a) => `${a.type}:${a.outcome}`) };
  if (mode.logsOutcome) {
    run.log.info({ clinic: clinic.id, status, rules: summary.rules, actions: summary.actions }, 'message handled');
  }
  return { status, reply, clinicId: clinic.id, summary };
}

/**
 * Best effort: the record says it failed, unless the store itself is what failed. When it
 * is unreachable, trying again would only spend the caller's time budget (the webhook must
 * answer within 5 s and spool the message); a replay takes the unfinished record over.
 */
async function recordFailure(run: Run, err: unknown): Promise<void> {
  const code = String(errorCode(err) ?? 'INTERNAL');
  if (code !== 'STORE_UNAVAILABLE') {
    await finishEmpty(run, 'error', { error: code }).catch(() => undefined);
  }
}

/**
 * Completes the record. A webhook's completion races the webhook giving up at its deadline
 * (giveUpMessage): whichever lands first in the record is the answer every delivery gives,
 * so a completion that lost throws and the system-error text stands.
 */
async function settle(run: Run, completion: MessageCompletion): Promise<void> {
  const written = await run.deps.store.completeMessage(run.message.messageSid, completion, { unlessGivenUp: run.mode === 'webhook' });
  if (!written && run.mode === 'webhook') {
    throw new AppError('STORE_UNAVAILABLE', 'the webhook gave up on this message at its deadline (spooled for replay)');
  }
}

/** Completes the record of a message on which no rule ran (rejected, rate-limited, error). */
function finishEmpty(run: Run, status: MessageStatus, extra: { patientIds?: string[]; error?: string } = {}): Promise<void> {
  return settle(run, {
    status,
    patientIds: extra.patientIds ?? [],
    rulesFired: [],
    actions: [],
    reply: null,
    completedAt: run.deps.clock(),
    timings: { totalMs: round(performance.now() - run.started) },
    ...(extra.error === undefined ? {} : { error: extra.error }),
  });
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
