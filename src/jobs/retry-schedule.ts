/**
 * The jobs kit's one retry schedule: when a failed job is tried again. Each kind of job
 * has its table (events: Svix's; media: Twilio's lag, then about a day); the waits are
 * jittered the same way, and the lease fields use the same EPOCH.
 */

/** "Nobody holds it": the lockedUntil of a job no lease holds. */
export const EPOCH = new Date(0);

/**
 * A retry wait from a schedule, stretched or shrunk at random by up to `jitter` of itself
 * so that work which failed together does not come back together (events and media).
 * @param delays - the schedule, ms
 * @param index - which wait; past the end there is none
 * @param jitter - the share by which a wait may move either way (0.1: ±10%)
 * @param random - a number in [0, 1)
 * @returns the wait in ms, or null when the schedule is used up
 */
export function jitteredDelayMs(delays: readonly number[], index: number, jitter: number, random: number): number | null {
  const base = delays[index];
  if (base === undefined) {
    return null;
  }
  return Math.round(base * (1 - jitter + 2 * jitter * random));
}

// Events (Standard Webhooks deliveries).

/**
 * The wait before each attempt (Svix's schedule): the first at once, then 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the failure before it. After the
 * last one fails the delivery is `failed` (a dead letter, kept).
 */
export const RETRY_DELAYS_MS: readonly number[] = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000];

/** Each wait is stretched or shrunk by up to this share, so retries of many deliveries spread out. */
export const EVENT_JITTER = 0.1;

/** The longest Retry-After honoured: a receiver cannot park a delivery for longer than the schedule's longest wait. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * The wait before the next attempt, or null when none is left.
 * @param attemptsMade - attempts so far, the failed one included
 * @param delays - the schedule (tests use a short one)
 * @param random - a number in [0, 1)
 */
export function nextDelayMs(attemptsMade: number, delays: readonly number[] = RETRY_DELAYS_MS, random: number = Math.random()): number | null {
  return jitteredDelayMs(delays, attemptsMade, EVENT_JITTER, random);
}

/**
 * Reads a Retry-After header (seconds, or an HTTP date) as a wait in ms, at most
 * MAX_RETRY_AFTER_MS; null when absent or unreadable.
 * @param header - the header's value
 * @param now - the time the answer came
 */
export function parseRetryAfter(header: string | null, now: Date): number | null {
  if (header === null || header.trim() === '') {
    return null;
  }
  const text = header.trim();
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) {
      return null;
    }
    ms = at - now.getTime();
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

// Media fetches.

/**
 * Waits before each retry of a media job. The first is short because Twilio's media can
 * lag the webhook by a few seconds (a 404 right after delivery); then it spreads out
 * over about a day for an outage at Twilio or a credential being fixed.
 */
export const MEDIA_RETRY_DELAYS_MS: readonly number[] = [5_000, 20_000, 60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000, 4 * 60 * 60_000, 12 * 60 * 60_000];

/**
 * The wait before the next attempt, with ±20% jitter so jobs that failed together do not
 * come back together; null when the schedule is used up.
 * @param attempts - attempts made so far (1 after the first)
 * @param delays - the schedule
 * @param random - a number in [0, 1)
 */
export function nextRetryMs(attempts: number, delays: readonly number[], random: number): number | null {
  return jitteredDelayMs(delays, attempts - 1, 0.2, random);
}

/** How an HTTP attempt of a job ended, as the workers see it (events: a POST; media: a download). */
export type AttemptOutcome = { kind: 'answer' | 'status'; status: number } | { kind: 'timeout' } | { kind: 'network'; reason: string };

/** A failed attempt in a few words, for lastError (never a response body). */
export function attemptProblem(outcome: AttemptOutcome): string {
  switch (outcome.kind) {
    case 'timeout':
      return 'timeout';
    case 'network':
      return `network error ${outcome.reason}`;
    default:
      return `HTTP ${outcome.status}`;
  }
}
