import type { JsonPath } from './yaml-source.js';
import { WEEKDAYS, type Clinic, type Closure, type Weekday, type Weekly } from '../domain.js';
import type { Finding } from '../errors.js';
import { E164_PATTERN, isE164 } from '../phone.js';
import { compileSchema, configInvalid, isDate, parseConfigYaml, positionOf, readConfigText, schemaFindings, topList } from './config-file.js';
import { EVENT_ENDPOINT_SCHEMA, eventEndpointsOf } from './event-endpoints.js';

export { isTimeZone } from './config-file.js';

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const WHAT = { what: 'clinics file' };

/** Staff replies: SMS segments one reply may take (a 1,600-character GSM-7 text is 11). */
export const DEFAULT_REPLY_MAX_SEGMENTS = 10;
/** Staff replies: what one API key may send a minute. */
export const DEFAULT_REPLIES_PER_KEY_PER_MINUTE = 30;

const ENV_NAME = { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$', message: 'expected an environment variable name' };
const COUNT = { type: 'integer', minimum: 1, message: 'expected a whole number of at least 1' };
const FLAG = { type: 'boolean', message: 'expected true or false' };
const DATE = { type: 'string', format: 'date', message: '"{value}" is not a date written YYYY-MM-DD' };

/** One closure (`closures:` item): date, or from and to; which of them, and the reply's languages, are checked in code. */
const CLOSURE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  message: { type: 'expected a map with date (or from and to), and optional reason and reply', additionalProperties: 'unknown field "{name}" (date, from, to, reason, reply)' },
  properties: {
    date: DATE,
    from: DATE,
    to: DATE,
    reason: { type: 'string', pattern: '\\S', maxLength: 100, message: 'expected a short text (at most 100 characters)' },
    reply: {
      anyOf: [{ type: 'string' }, { type: 'object', minProperties: 1 }],
      message: 'expected a text, or a text per language (en: ..., es: ...)',
    },
  },
};

/**
 * JSON Schema of one clinic of the clinics file. The checks across clinics (ids and numbers
 * used twice), the order of opening hours and closure dates, and a closure reply's languages
 * are in readClinics.
 */
export const CLINIC_SCHEMA = {
  type: 'object',
  required: ['id', 'name', 'timezone', 'phoneNumbers'],
  additionalProperties: false,
  dependencies: { apiKeySid: ['apiKeySecretEnv'], apiKeySecretEnv: ['apiKeySid'] },
  message: { type: 'expected a map', dependencies: 'apiKeySid and apiKeySecretEnv go together' },
  properties: {
    id: { type: 'string', pattern: ID.source, message: 'required, lower-case letters, digits and dashes' },
    name: { type: 'string', pattern: '\\S', message: 'required text' },
    phoneNumbers: {
      type: 'array',
      minItems: 1,
      message: 'required list of E.164 numbers',
      items: { type: 'string', pattern: E164_PATTERN, message: '"{value}" is not E.164 (e.g. +13125550100)' },
    },
    officePhone: { type: 'string', message: 'expected text' },
    timezone: { type: 'string', format: 'time-zone', message: 'required IANA time zone (e.g. America/Chicago)' },
    businessHours: {
      type: 'object',
      message: { default: 'expected a map of weekday to hours, e.g. mon: "08:00-17:00"', propertyNames: 'unknown weekday "{name}" (mon, tue, wed, thu, fri, sat, sun)' },
      propertyNames: { type: 'string', format: 'weekday' },
      additionalProperties: {
        anyOf: [{ type: 'null' }, { type: 'string' }, { type: 'array', items: { type: 'string' } }],
        message: 'expected "HH:MM-HH:MM" (24-hour, opening before closing) or "closed"',
      },
    },
    closures: { type: 'array', items: CLOSURE_SCHEMA, message: 'expected a list of closures, e.g. - { date: 2026-12-25, reason: Christmas Day }' },
    languages: { type: 'array', items: { type: 'string', pattern: '^[a-z]{2}$', message: 'expected a two-letter language code' }, message: 'expected a list of two-letter language codes' },
    authTokenEnv: ENV_NAME,
    accountSid: { type: 'string', pattern: '^AC[0-9a-f]{32}$', message: 'expected AC followed by 32 hex digits' },
    defaultRegion: { type: 'string', pattern: '^[A-Z]{2}$', message: 'expected a two-letter country code' },
    rateLimitPerMinute: COUNT,
    replyMaxSegments: COUNT,
    repliesPerKeyPerMinute: COUNT,
    autoReply: FLAG,
    events: { type: 'array', items: EVENT_ENDPOINT_SCHEMA, message: 'expected a list of endpoints (url, secretEnv, optional types)' },
    deleteMediaFromTwilio: FLAG,
    apiKeySid: { type: 'string', pattern: '^SK[0-9a-f]{32}$', message: 'expected SK followed by 32 hex digits' },
    apiKeySecretEnv: ENV_NAME,
  },
} as const;

let validateClinic: ReturnType<typeof compileSchema> | undefined;

export interface ClinicsFile {
  clinics: Clinic[];
  /** Clinic by its E.164 Twilio number. */
  byNumber: Map<string, Clinic>;
  byId: Map<string, Clinic>;
}

/** A clinic entry that is invalid: what could be read of it, and its findings. */
export interface InvalidClinicEntry {
  /** Its place in the list. */
  index: number;
  /** Its id when valid and not another clinic's. */
  id: string | null;
  /** Its numbers that are valid E.164 and not another clinic's. */
  phoneNumbers: string[];
  authTokenEnv?: string;
  accountSid?: string;
  findings: Finding[];
}

/** The clinics file read entry by entry: the valid clinics, and the invalid entries apart. */
export interface ClinicsFileRead {
  clinics: ClinicsFile;
  invalid: InvalidClinicEntry[];
}

/**
 * Parses and validates the clinics file. Collects every problem, then throws one
 * CONFIG_INVALID AppError whose findings name file:line:col and the field.
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function parseClinics(text: string, file: string): ClinicsFile {
  const read = readClinics(text, file);
  const findings = read.invalid.flatMap((e) => e.findings);
  if (findings.length > 0) {
    throw configInvalid(file, findings, WHAT);
  }
  return read.clinics;
}

type Entry = Record<string, unknown>;

/**
 * Parses the clinics file entry by entry (the configuration loader: YAML with positions and
 * CLINIC_SCHEMA): an invalid entry is set apart with its findings (so one bad clinic does not
 * stop the others). Throws CONFIG_INVALID only when the file as a whole is unusable (YAML
 * syntax, no list of clinics).
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function readClinics(text: string, file: string): ClinicsFileRead {
  const source = parseConfigYaml(text, file, WHAT);
  const list = topList(source, 'clinics');
  if (list === null || list === 'empty') {
    throw configInvalid(file, [source.findingAt([], 'expected a list of clinics, or a map with a "clinics" list')], WHAT);
  }
  validateClinic ??= compileSchema(CLINIC_SCHEMA);
  const clinics: Clinic[] = [];
  const invalid: InvalidClinicEntry[] = [];
  const numbers = new Map<string, string>();
  const ids = new Set<string>();
  list.items.forEach((raw, index) => {
    const path = [...list.path, index];
    const label = `clinics[${index}]`;
    const findings = schemaFindings(source, validateClinic as ReturnType<typeof compileSchema>, { path, label, data: raw });
    const at = (rel: JsonPath, message: string): void => {
      findings.push(source.findingAt([...path, ...rel], `${label}${message}`));
    };
    const entry: Entry = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Entry) : {};
    // Across clinics: an id or a number only one clinic may have.
    let usableId: string | null = null;
    if (typeof entry.id === 'string' && ID.test(entry.id)) {
      if (ids.has(entry.id)) {
        at(['id'], `.id: "${entry.id}" is used by another clinic`);
      } else {
        ids.add(entry.id);
        usableId = entry.id;
      }
    }
    const phones: string[] = [];
    (Array.isArray(entry.phoneNumbers) ? (entry.phoneNumbers as unknown[]) : []).forEach((n, i) => {
      if (typeof n !== 'string' || !isE164(n)) {
        return;
      }
      const owner = numbers.get(n);
      if (owner !== undefined) {
        at(['phoneNumbers', i], `.phoneNumbers[${i}]: ${n} already belongs to clinic "${owner}"`);
      } else {
        numbers.set(n, typeof entry.id === 'string' ? entry.id : label);
        phones.push(n);
      }
    });
    const languages = Array.isArray(entry.languages) && entry.languages.every((l) => typeof l === 'string') ? (entry.languages as string[]) : ['en'];
    const businessHours = hoursOf(entry.businessHours, (day, message) => at(['businessHours', day], `.businessHours.${day}: ${message}`));
    const closures = closuresOf(entry.closures, languages, (rel, message) => at(['closures', ...rel], `.closures${message}`), (i) => positionOf(source, [...path, 'closures', i]));
    const events = eventEndpointsOf(entry.events, (i, message) => at(['events', i, 'url'], `.events[${i}].url: ${message}`), (i) => positionOf(source, [...path, 'events', i, 'url']));
    if (findings.length > 0) {
      invalid.push({
        index,
        id: usableId,
        phoneNumbers: phones,
        ...(typeof entry.authTokenEnv === 'string' && /^[A-Z_][A-Z0-9_]*$/.test(entry.authTokenEnv) ? { authTokenEnv: entry.authTokenEnv } : {}),
        ...(typeof entry.accountSid === 'string' && /^AC[0-9a-f]{32}$/.test(entry.accountSid) ? { accountSid: entry.accountSid } : {}),
        findings: findings.sort((a, b) => a.line - b.line || a.col - b.col),
      });
      return;
    }
    clinics.push(clinicOf(entry, phones, languages, businessHours, closures, events));
  });
  return { clinics: indexClinics(clinics), invalid };
}

/** A valid entry as the Clinic the service uses, defaults filled. */
function clinicOf(entry: Entry, phoneNumbers: string[], languages: string[], businessHours: Clinic['businessHours'], closures: Closure[], events: Clinic['events']): Clinic {
  const clinic: Clinic = {
    id: entry.id as string,
    name: (entry.name as string).trim(),
    phoneNumbers,
    timezone: entry.timezone as string,
    languages,
    defaultRegion: (entry.defaultRegion as string | undefined) ?? 'US',
    rateLimitPerMinute: (entry.rateLimitPerMinute as number | undefined) ?? 10,
    replyMaxSegments: (entry.replyMaxSegments as number | undefined) ?? DEFAULT_REPLY_MAX_SEGMENTS,
    repliesPerKeyPerMinute: (entry.repliesPerKeyPerMinute as number | undefined) ?? DEFAULT_REPLIES_PER_KEY_PER_MINUTE,
    autoReply: (entry.autoReply as boolean | undefined) ?? true,
  };
  for (const key of ['officePhone', 'authTokenEnv', 'accountSid', 'apiKeySid', 'apiKeySecretEnv'] as const) {
    if (typeof entry[key] === 'string') {
      clinic[key] = entry[key];
    }
  }
  if (businessHours) {
    clinic.businessHours = businessHours;
  }
  if (closures.length > 0) {
    clinic.closures = closures;
  }
  if (events && events.length > 0) {
    clinic.events = events;
  }
  if (entry.deleteMediaFromTwilio === true) {
    clinic.deleteMediaFromTwilio = true;
  }
  return clinic;
}

/** Builds the look-up maps of a validated list of clinics. */
export function indexClinics(clinics: Clinic[]): ClinicsFile {
  const byNumber = new Map<string, Clinic>();
  const byId = new Map<string, Clinic>();
  for (const clinic of clinics) {
    byId.set(clinic.id, clinic);
    for (const n of clinic.phoneNumbers) {
      byNumber.set(n, clinic);
    }
  }
  return { clinics, byNumber, byId };
}

/**
 * Business hours written as in the clinics file (weekday: "HH:MM-HH:MM", a list of such spans,
 * or "closed"), from plain data: for `rules test` cases that state the hours they rely on.
 * @returns the hours, or the first problem in words
 */
export function businessHoursFrom(raw: unknown): { hours: Partial<Record<Weekday, Weekly[]>> } | { problem: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { problem: 'expected a map of weekday to hours, e.g. mon: "08:00-17:00" (a day not listed is closed)' };
  }
  const hours: Partial<Record<Weekday, Weekly[]>> = {};
  for (const [key, value] of Object.entries(raw)) {
    const day = key.toLowerCase() as Weekday;
    if (!WEEKDAYS.includes(day)) {
      return { problem: `unknown weekday "${key}" (mon, tue, wed, thu, fri, sat, sun)` };
    }
    const spans = spansOf(value);
    if (spans === null) {
      return { problem: `${day}: expected "HH:MM-HH:MM" (24-hour, opening before closing), a list of them, or "closed"` };
    }
    hours[day] = spans;
  }
  return { hours };
}

/** The spans of one day's hours as written ("HH:MM-HH:MM", a list of them, "closed" or empty), or null when one is malformed. */
function spansOf(value: unknown): Weekly[] | null {
  const spans: Weekly[] = [];
  for (const span of (Array.isArray(value) ? value : [value]).filter((s) => s !== null && s !== undefined && s !== 'closed')) {
    const m = typeof span === 'string' ? /^\s*(\S+)\s*-\s*(\S+)\s*$/.exec(span) : null;
    if (!m || !HHMM.test(m[1] ?? '') || !HHMM.test(m[2] ?? '') || (m[1] ?? '') >= (m[2] ?? '')) {
      return null;
    }
    spans.push({ open: m[1] as string, close: m[2] as string });
  }
  return spans;
}

/** Business hours from a clinic entry (the schema checked the shape; here: each span, opening before closing). */
function hoursOf(raw: unknown, fail: (day: string, message: string) => void): Partial<Record<Weekday, Weekly[]>> | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return undefined;
  }
  const out: Partial<Record<Weekday, Weekly[]>> = {};
  for (const [key, value] of Object.entries(raw)) {
    const day = key.toLowerCase() as Weekday;
    if (!WEEKDAYS.includes(day)) {
      continue;
    }
    const spans = spansOf(value);
    if (spans === null) {
      if (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
        fail(key, 'expected "HH:MM-HH:MM" (24-hour, opening before closing) or "closed"');
      }
      continue;
    }
    out[day] = spans;
  }
  return out;
}

/**
 * `closures:` - a list of days the clinic is closed: `date: 2026-12-25` for one day, or
 * `from:` and `to:` (both included); an optional `reason`; an optional `reply`, one text or
 * one text per language of the clinic (plain text: it is sent as written). The schema checked
 * each field; here: date or a range, the range's order, and the reply's languages.
 */
function closuresOf(raw: unknown, languages: readonly string[], fail: (rel: JsonPath, message: string) => void, position: (index: number) => Closure['source']): Closure[] {
  const out: Closure[] = [];
  (Array.isArray(raw) ? (raw as unknown[]) : []).forEach((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return;
    }
    const c = item as Entry;
    if (c.date !== undefined && (c.from !== undefined || c.to !== undefined)) {
      fail([i, 'date'], `[${i}]: give date (one day) or from and to (a range), not both`);
      return;
    }
    const from = c.from ?? c.date;
    const to = c.to ?? c.date;
    if (from === undefined || to === undefined) {
      fail([i], `[${i}]: needs date: YYYY-MM-DD, or from: and to:`);
      return;
    }
    if (isDate(from) && isDate(to) && to < from) {
      fail([i, 'to'], `[${i}].to: ${to} is before from: ${from}`);
    }
    const closure: Closure = { from: String(from), to: String(to), source: position(i) };
    if (typeof c.reason === 'string') {
      closure.reason = c.reason.trim();
    }
    const texts = typeof c.reply === 'string' ? [['*', c.reply] as const] : c.reply !== null && typeof c.reply === 'object' ? Object.entries(c.reply) : [];
    if (c.reply !== undefined) {
      const reply: Record<string, string> = {};
      for (const [language, text] of texts) {
        const where = `[${i}].reply${language === '*' ? '' : `.${language}`}`;
        if (language !== '*' && !languages.includes(language)) {
          fail([i, 'reply'], `${where}: the clinic's languages are ${languages.join(', ')}`);
        } else if (typeof text !== 'string' || text.trim() === '') {
          fail([i, 'reply'], `${where}: expected a text`);
        } else if (text.includes('{{')) {
          fail([i, 'reply'], `${where}: a closure's reply is sent as written: {{merge fields}} are not filled`);
        } else {
          reply[language] = text;
        }
      }
      closure.reply = reply;
    }
    out.push(closure);
  });
  return out;
}

/** Reads and parses the clinics file at `path`. */
export async function loadClinicsFile(path: string): Promise<ClinicsFile> {
  return parseClinics((await readConfigText(path, WHAT)) ?? '', path);
}

/** Reads the clinics file at `path` entry by entry (see readClinics). */
export async function readClinicsFile(path: string): Promise<ClinicsFileRead> {
  return readClinics((await readConfigText(path, WHAT)) ?? '', path);
}
