import { jitteredDelayMs } from '../backoff.js';

/**
 * The wait before each attempt (Svix's schedule): the first at once, then 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the failure before it. After the
 * last one fails the delivery is `failed` (a dead letter, kept).
 */
export const RETRY_DELAYS_MS: readonly number[] = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000];

/** Each wait is stretched or shrunk by up to this share, so retries of many deliveries spread out. */
export const JITTER = 0.1;

/** The longest Retry-After honoured: a receiver cannot park a delivery for longer than the schedule's longest wait. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * The wait before the next attempt, or null when none is left.
 * @param attemptsMade - attempts so far, the failed one included
 * @param delays - the schedule (tests use a short one)
 * @param random - a number in [0, 1)
 */
export function nextDelayMs(attemptsMade: number, delays: readonly number[] = RETRY_DELAYS_MS, random: number = Math.random()): number | null {
  return jitteredDelayMs(delays, attemptsMade, JITTER, random);
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
