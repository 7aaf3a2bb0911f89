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
