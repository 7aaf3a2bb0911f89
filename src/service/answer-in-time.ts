import type { InboundMessage, MessageRecord } from '../domain.js';
import { AppError } from '../errors.js';
import { handleMessage, WEBHOOK_DEADLINE_MS, type PipelineDeps, type PipelineResult, type PipelineSignal } from './handle-message.js';
import type { Snapshot } from './live-config.js';

/**
 * The end of the deadline kept for the first delivery's give-up write (at most this, ms, and
 * a fifth of the deadline): the answer is decided in the record before the deadline.
 */
export const GIVE_UP_BUDGET_MS = 400;

/**
 * The answers being decided on this instance, by MessageSid: a repeat that arrives while the
 * first delivery here is still running joins it instead of racing it through the database,
 * so deliveries on one instance answer alike however slow the database is. Repeats on
 * another instance learn the answer from the record. Made by createApp, one per app.
 */
export type AnswersInFlight = Map<string, Promise<PipelineResult>>;

type Settled<T> = { done: true; value: T } | { done: false };

/** `work`'s value if it resolves within `ms`; its rejection if it rejects within `ms`. */
function within<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ done: false }), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve({ done: true, value });
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

const deadlinePassed = (ms: number): AppError => new AppError('STORE_UNAVAILABLE', `the message pipeline did not finish within ${ms} ms`);

/**
 * One webhook delivery, answered within `deadlineMs` with the answer every delivery of its
 * MessageSid gives. The pipeline runs; if it has not finished when only the give-up budget
 * is left, the delivery that owns the record gives up *in the record* (giveUpMessage), which
 * races the pipeline's own completion atomically: whichever landed first is the answer (the
 * reply, or the system-error text with the message spooled for replay). Repeats wait for
 * that decision in the record (handle-message.ts). Past the deadline, a delivery that does
 * not know the decision answers the system-error text: the first delivery does so too when
 * the database does not answer in time.
 * @param deps - what the pipeline needs (no signal: it is made here)
 * @param snapshot - clinics and rules live when the request arrived
 * @param message - the signature-checked, normalized message
 * @param receivedAt - when it arrived
 * @param deadlineMs - the answer deadline
 * @throws STORE_UNAVAILABLE when the answer is the system-error text and the message must go to the spool
 */
export async function answerInTime(
  deps: Omit<PipelineDeps, 'signal' | 'deadlineMs'> & { inFlight: AnswersInFlight },
  snapshot: Snapshot,
  message: InboundMessage,
  receivedAt: Date,
  deadlineMs: number = WEBHOOK_DEADLINE_MS,
): Promise<PipelineResult> {
  const sid = message.messageSid;
  const first = deps.inFlight.get(sid);
  if (first) {
    return joinFirst(deps, first, sid, receivedAt);
  }
  const answer = decideAnswer(deps, snapshot, message, receivedAt, deadlineMs);
  deps.inFlight.set(sid, answer);
  try {
    return await answer;
  } finally {
    deps.inFlight.delete(sid);
  }
}

/**
 * A repeat of a delivery still running on this instance: the same answer, once the first
 * has it (the first delivery's deadline comes before this one's). The system-error text
 * when the first failed; the first spooled the message when that was needed.
 */
async function joinFirst(deps: Pick<PipelineDeps, 'store' | 'metrics'>, first: Promise<PipelineResult>, sid: string, receivedAt: Date): Promise<PipelineResult> {
  deps.metrics.duplicates.inc();
  // The audit trail notes the repeat on the record once the first has its answer (and the
  // record exists); the answer waits for that only briefly: it is already decided.
  const note = (): Promise<void> => deps.store.recordDuplicate(sid, receivedAt).catch(() => undefined);
  const noted = first.then(note, note);
  let result: PipelineResult;
  try {
    result = { ...(await first), status: 'duplicate', summary: undefined };
  } catch {
    result = { status: 'duplicate', reply: null, systemError: true, clinicId: null };
  }
  await within(noted, NOTE_REPEAT_MS).catch(() => undefined);
  return result;
}

/** How long a joined repeat waits for its audit note before answering, ms. */
const NOTE_REPEAT_MS = 250;

async function decideAnswer(
  deps: Omit<PipelineDeps, 'signal' | 'deadlineMs'>,
  snapshot: Snapshot,
  message: InboundMessage,
  receivedAt: Date,
  deadlineMs: number,
): Promise<PipelineResult> {
  const signal: PipelineSignal & { aborted: boolean } = { aborted: false };
  const work = handleMessage({ ...deps, signal, deadlineMs }, snapshot, message, 'webhook', receivedAt);
  const budget = Math.min(GIVE_UP_BUDGET_MS, deadlineMs / 5);
  const early = await within(work, deadlineMs - budget);
  if (early.done) {
    return early.value;
  }
  signal.aborted = true;
  if (signal.role === 'repeat') {
    // Its wait ends when the first delivery's deadline has passed, before this one's.
    const late = await within(work, budget);
    return late.done ? late.value : { status: 'duplicate', reply: null, systemError: true, clinicId: null };
  }
  if (signal.role === 'owner') {
    work.catch(() => undefined); // Its stop at the next step is expected now.
    const decided = await within(decide(deps, message.messageSid, work), budget);
    if (decided.done && decided.value) {
      return decided.value;
    }
  }
  throw deadlinePassed(deadlineMs);
}

/**
 * After giving up: resolves to the pipeline's result when its completion won the race in
 * the record, or null when the give-up did (or nothing could be learnt).
 */
function decide(deps: Pick<PipelineDeps, 'store' | 'clock'>, messageSid: string, work: Promise<PipelineResult>): Promise<PipelineResult | null> {
  return new Promise((resolve) => {
    let open = 2;
    const unknown = (): void => {
      open -= 1;
      if (open === 0) {
        resolve(null);
      }
    };
    // A completion that lost the race, or a stop at a checkpoint, rejects.
    work.then(resolve, unknown);
    deps.store.giveUpMessage(messageSid, deps.clock()).then((record) => {
      if (record?.gaveUpAt !== undefined) {
        resolve(null);
      } else if (record && completed(record)) {
        resolve({ status: record.status, reply: record.reply, clinicId: record.clinicId });
      } else {
        unknown();
      }
    }, unknown);
  });
}

/** Completed by the pipeline (not still in flight, not a failure a repeat takes over). */
const completed = (record: MessageRecord): boolean => record.status !== 'received' && record.status !== 'error';
