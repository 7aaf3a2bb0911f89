import { jitteredDelayMs } from '../backoff.js';

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
