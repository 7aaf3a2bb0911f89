import { localTime } from '../../rules/local-time.js';
import type { CheckWarning, ClinicCheckContext } from './check-context.js';

/**
 * Closures in the clinics file whose last day is before today (in the clinic's time zone):
 * they do nothing any more, and a date typed with last year's number looks like one. Cannot be
 * accepted: remove the closure, or fix its year.
 * @param now - today's instant (tests pass their own)
 */
export function pastClosureWarnings(ctx: ClinicCheckContext, now: Date): CheckWarning[] {
  const today = localTime(now, ctx.clinic.timezone).date;
  return (ctx.clinic.closures ?? [])
    .filter((c) => c.to < today && c.source)
    .map((c) => ({
      file: c.source?.file ?? '',
      line: c.source?.line ?? 0,
      col: c.source?.col ?? 0,
      severity: 'warning',
      code: 'past-closure',
      message: `clinic ${ctx.clinic.id}: the closure ${c.from === c.to ? c.from : `${c.from} to ${c.to}`}${c.reason ? ` (${c.reason})` : ''} is over (today is ${today} in ${ctx.clinic.timezone}): remove it, or fix its year`,
    }));
}
