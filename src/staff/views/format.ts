/** How the pages write times: in the clinic's time zone, as the front desk reads them. */

/** "Mon, Dec 7, 9:05 AM" in the clinic's zone. */
export function localTime(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(at);
}

/** "9:05 AM" today, else as localTime. */
export function shortTime(at: Date, now: Date, timeZone: string): string {
  const day = (d: Date): string => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  if (day(at) === day(now)) {
    return new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', minute: '2-digit' }).format(at);
  }
  return localTime(at, timeZone);
}

/** "12 min", "3 h", "2 days": how long something has waited. */
export function waited(since: Date, now: Date): string {
  const minutes = Math.max(0, Math.floor((now.getTime() - since.getTime()) / 60_000));
  if (minutes < 1) {
    return 'under a minute';
  }
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return `${hours} h`;
  }
  return `${Math.floor(hours / 24)} days`;
}

/** The value of an `<input type="datetime-local">` for a time in the clinic's zone: "2026-12-07T09:00". */
export function datetimeLocalValue(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/**
 * The instant a `datetime-local` value names in the clinic's zone (null: not such a value).
 * @param value - "2026-12-07T09:00"
 */
export function fromDatetimeLocal(value: string, timeZone: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) {
    return null;
  }
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  // The zone's offset at that wall time: guess as UTC, then correct by the offset there (twice for DST edges).
  let guess = Date.UTC(y, mo - 1, d, h, mi);
  for (let i = 0; i < 2; i += 1) {
    const shown = datetimeLocalValue(new Date(guess), timeZone);
    const [sy, smo, sd, sh, smi] = shown.split(/[-T:]/).map(Number) as [number, number, number, number, number];
    guess += Date.UTC(y, mo - 1, d, h, mi) - Date.UTC(sy, smo - 1, sd, sh, smi);
  }
  const result = new Date(guess);
  return Number.isNaN(result.getTime()) ? null : result;
}
