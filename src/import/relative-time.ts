/**
 * Seed files only: `startsAt: +Nd HH:MM` is N days after the day of `now` in the clinic's
 * time zone, at the local wall-clock time HH:MM. It keeps the demo appointments upcoming on
 * any date. Practice files (`clinic-sms import`) never get here: they keep absolute times.
 */
const RELATIVE = /^\+(\d{1,3})d (\d{2}):(\d{2})$/;

/** True when `value` is written in the seed-file relative notation (`+1d 15:00`). */
export function isRelativeTime(value: unknown): value is string {
  return typeof value === 'string' && RELATIVE.test(value.trim());
}

/**
 * Resolves `+Nd HH:MM` against `now` in `timeZone`.
 * @returns the instant, or null when the text is not the notation or the time is not a clock time
 */
export function resolveRelativeTime(value: string, now: Date, timeZone: string): Date | null {
  const match = RELATIVE.exec(value.trim());
  if (!match) {
    return null;
  }
  const [days, hour, minute] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (hour > 23 || minute > 59) {
    return null;
  }
  const today = wallClock(now.getTime(), timeZone);
  // The wanted wall-clock time, as if it were UTC; then corrected by the zone's offset there.
  const wanted = Date.UTC(today.year, today.month - 1, today.day + days, hour, minute);
  let at = wanted - offsetAt(wanted, timeZone);
  at = wanted - offsetAt(at, timeZone); // again, in case a DST change lies between
  return new Date(at);
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

function wallClock(at: number, timeZone: string): WallClock {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(
    new Date(at),
  );
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour') % 24, minute: get('minute') };
}

/** The zone's offset from UTC at `at`, ms (local = UTC + offset), to the minute. */
function offsetAt(at: number, timeZone: string): number {
  const w = wallClock(at, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - Math.floor(at / 60_000) * 60_000;
}
