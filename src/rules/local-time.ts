import { WEEKDAYS, type Clinic, type Closure, type Weekday } from '../domain.js';

export interface LocalTime {
  hour: number;
  minute: number;
  weekday: Weekday;
  /** 'HH:MM', 24-hour. */
  clock: string;
  /** 'YYYY-MM-DD', the local date. */
  date: string;
}

const FORMATTERS = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = FORMATTERS.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    FORMATTERS.set(timeZone, found);
  }
  return found;
}

/**
 * The wall-clock time at `now` in `timeZone`.
 * @param now - an instant
 * @param timeZone - IANA name, e.g. America/Chicago
 */
export function localTime(now: Date, timeZone: string): LocalTime {
  // Wall-clock minutes change once a minute (every time zone's offset is whole minutes):
  // the last answer per zone is reused within the same UTC minute (formatToParts is costly).
  const minuteKey = Math.floor(now.getTime() / 60_000);
  const cached = LAST.get(timeZone);
  if (cached && cached.minuteKey === minuteKey) {
    return { ...cached.time };
  }
  const time = computeLocalTime(now, timeZone);
  LAST.set(timeZone, { minuteKey, time });
  return { ...time };
}

const LAST = new Map<string, { minuteKey: number; time: LocalTime }>();

function computeLocalTime(now: Date, timeZone: string): LocalTime {
  const parts = formatter(timeZone).formatToParts(now);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const hour = Number(get('hour')) % 24;
  const minute = Number(get('minute'));
  const weekday = get('weekday').toLowerCase().slice(0, 3) as Weekday;
  if (!WEEKDAYS.includes(weekday)) {
    throw new Error(`unexpected weekday "${weekday}"`);
  }
  const clock = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  return { hour, minute, weekday, clock, date: `${get('year')}-${get('month')}-${get('day')}` };
}

/** The clinic's closure that covers the local date `date` ('YYYY-MM-DD'), or null (the first listed wins). */
export function closureOn(clinic: Clinic, date: string): Closure | null {
  return clinic.closures?.find((c) => c.from <= date && date <= c.to) ?? null;
}

/**
 * True when the clinic is open at `now`. A day of a closure is closed; a clinic without
 * businessHours is otherwise always open; a weekday missing from its businessHours is
 * closed all day.
 */
export function isWithinBusinessHours(clinic: Clinic, now: Date): boolean {
  const local = localTime(now, clinic.timezone);
  if (closureOn(clinic, local.date)) {
    return false;
  }
  if (!clinic.businessHours) {
    return true;
  }
  const spans = clinic.businessHours[local.weekday] ?? [];
  return spans.some((span) => span.open <= local.clock && local.clock < span.close);
}

const APPOINTMENT_FORMATTERS = new Map<string, Intl.DateTimeFormat>();
/** Formatted appointment times by formatter and instant: a clinic's appointments are few and asked for again and again. */
const FORMATTED = new Map<string, Map<number, string>>();
/** Instants a formatter keeps; the whole table of one is dropped past this (appointments rarely exceed it). */
const MAX_FORMATTED = 4096;

function formatAt(key: string, make: () => Intl.DateTimeFormat, at: Date): string {
  let done = FORMATTED.get(key);
  if (!done) {
    done = new Map();
    FORMATTED.set(key, done);
  }
  const ms = at.getTime();
  let text = done.get(ms);
  if (text === undefined) {
    let found = APPOINTMENT_FORMATTERS.get(key);
    if (!found) {
      found = make();
      APPOINTMENT_FORMATTERS.set(key, found);
    }
    // ICU formatting cost more than the rest of a reply (about 2.5 µs a message under load).
    text = plainSpaces(found.format(at));
    if (done.size >= MAX_FORMATTED) {
      done.clear();
    }
    done.set(ms, text);
  }
  return text;
}

/**
 * An appointment time as patients read it, in the clinic's time zone:
 * "Tue, Dec 1, 9:00 AM CST" (en) or "mar, 1 de dic, 9:00 a.m. CST" (es).
 */
export function formatAppointmentTime(at: Date, timeZone: string, language: string): string {
  const make = (): Intl.DateTimeFormat =>
    new Intl.DateTimeFormat(localeOf(language), {
      timeZone,
      weekday: 'short',
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
      timeZoneName: 'short',
    });
  return formatAt(`${timeZone}|${language}|time`, make, at);
}

/** An appointment date alone: "Tuesday, December 1". */
export function formatAppointmentDate(at: Date, timeZone: string, language: string): string {
  const make = (): Intl.DateTimeFormat => new Intl.DateTimeFormat(localeOf(language), { timeZone, weekday: 'long', month: 'long', day: 'numeric' });
  return formatAt(`${timeZone}|${language}|date`, make, at);
}

/**
 * ICU writes U+202F / U+00A0 before "AM": one such character turns a whole SMS into
 * UCS-2 (70 characters a segment instead of 160), so use plain spaces.
 */
function plainSpaces(text: string): string {
  return text.replace(/[\u00a0\u202f\u2009]/gu, ' ');
}

function localeOf(language: string): string {
  return language === 'es' ? 'es-US' : 'en-US';
}
