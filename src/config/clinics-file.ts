import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isSeq, type Node, type Document } from 'yaml';
import { AppError, fileFinding, type Finding } from '../errors.js';
import { WEEKDAYS, type Clinic, type Closure, type Weekday, type Weekly } from '../domain.js';
import { isE164 } from '../phone.js';
import { parseEventEndpoints } from './event-endpoints.js';
import { firstYamlError, plainYamlMessage } from './yaml-errors.js';

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const KNOWN_KEYS = new Set([
  'id',
  'name',
  'phoneNumbers',
  'officePhone',
  'timezone',
  'businessHours',
  'closures',
  'languages',
  'authTokenEnv',
  'accountSid',
  'defaultRegion',
  'rateLimitPerMinute',
  'replyMaxSegments',
  'repliesPerKeyPerMinute',
  'autoReply',
  'events',
  'deleteMediaFromTwilio',
  'apiKeySid',
  'apiKeySecretEnv',
]);

/** Staff replies: SMS segments one reply may take (a 1,600-character GSM-7 text is 11). */
export const DEFAULT_REPLY_MAX_SEGMENTS = 10;
/** Staff replies: what one API key may send a minute. */
export const DEFAULT_REPLIES_PER_KEY_PER_MINUTE = 30;

/** True when `tz` is an IANA time zone this Node knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

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
    findings.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new AppError('CONFIG_INVALID', `invalid clinics file ${file}`, { findings });
  }
  return read.clinics;
}

/**
 * Parses the clinics file entry by entry: an invalid entry is set apart with its findings
 * (so one bad clinic does not stop the others). Throws CONFIG_INVALID only when the file as
 * a whole is unusable (YAML syntax, no list of clinics).
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function readClinics(text: string, file: string): ClinicsFileRead {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const findings: Finding[] = [];
  const at = (node: Node | null | undefined, message: string): void => {
    const offset = node?.range?.[0] ?? 0;
    const pos = lineCounter.linePos(offset);
    findings.push({ file, line: pos.line, col: pos.col, message, severity: 'error' });
  };
  // The first parser error only, in plain words: one bad indent makes yaml report several.
  const firstError = firstYamlError(doc.errors);
  if (firstError) {
    const pos = lineCounter.linePos(firstError.first.pos[0]);
    findings.push({ file, line: pos.line, col: pos.col, message: plainYamlMessage(firstError.first), severity: 'error' });
  }
  if (findings.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid clinics file ${file}`, { findings });
  }
  const root = rootList(doc);
  if (!root) {
    at(doc.contents, 'expected a list of clinics, or a map with a "clinics" list');
    throw new AppError('CONFIG_INVALID', `invalid clinics file ${file}`, { findings });
  }
  const clinics: Clinic[] = [];
  const invalid: InvalidClinicEntry[] = [];
  const numbers = new Map<string, string>();
  const ids = new Set<string>();
  root.items.forEach((item, index) => {
    const where = `clinics[${index}]`;
    const before = findings.length;
    if (!isMap(item)) {
      at(item as Node, `${where}: expected a map`);
      invalid.push({ index, id: null, phoneNumbers: [], findings: findings.slice(before) });
      return;
    }
    const get = (key: string): Node | undefined => item.get(key, true) as Node | undefined;
    const value = (key: string): unknown => (get(key) as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? undefined;
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (!KNOWN_KEYS.has(key)) {
        at(pair.key as Node, `${where}: unknown field "${key}"`);
      }
    }
    const id = value('id');
    const name = value('name');
    const timezone = value('timezone');
    const phoneNumbers = value('phoneNumbers');
    let ok = true;
    let usableId: string | null = null;
    if (typeof id !== 'string' || !ID.test(id)) {
      at(get('id') ?? item, `${where}.id: required, lower-case letters, digits and dashes`);
      ok = false;
    } else if (ids.has(id)) {
      at(get('id'), `${where}.id: "${id}" is used by another clinic`);
      ok = false;
    } else {
      ids.add(id);
      usableId = id;
    }
    if (typeof name !== 'string' || name.trim() === '') {
      at(get('name') ?? item, `${where}.name: required text`);
      ok = false;
    }
    if (typeof timezone !== 'string' || !isTimeZone(timezone)) {
      at(get('timezone') ?? item, `${where}.timezone: required IANA time zone (e.g. America/Chicago)`);
      ok = false;
    }
    const phones: string[] = [];
    if (!Array.isArray(phoneNumbers) || phoneNumbers.length === 0) {
      at(get('phoneNumbers') ?? item, `${where}.phoneNumbers: required list of E.164 numbers`);
      ok = false;
    } else {
      const seq = get('phoneNumbers');
      phoneNumbers.forEach((n: unknown, i) => {
        const node = isSeq(seq) ? (seq.items[i] as Node) : seq;
        if (typeof n !== 'string' || !isE164(n)) {
          at(node, `${where}.phoneNumbers[${i}]: "${String(n)}" is not E.164 (e.g. +13125550100)`);
          ok = false;
        } else if (numbers.has(n)) {
          at(node, `${where}.phoneNumbers[${i}]: ${n} already belongs to clinic "${numbers.get(n) ?? ''}"`);
          ok = false;
        } else {
          numbers.set(n, typeof id === 'string' ? id : where);
          phones.push(n);
        }
      });
    }
    const officePhone = value('officePhone');
    if (officePhone !== undefined && typeof officePhone !== 'string') {
      at(get('officePhone'), `${where}.officePhone: expected text`);
      ok = false;
    }
    const languages = value('languages') ?? ['en'];
    if (!Array.isArray(languages) || !languages.every((l) => typeof l === 'string' && /^[a-z]{2}$/.test(l))) {
      at(get('languages'), `${where}.languages: expected a list of two-letter language codes`);
      ok = false;
    }
    const authTokenEnv = value('authTokenEnv');
    if (authTokenEnv !== undefined && (typeof authTokenEnv !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(authTokenEnv))) {
      at(get('authTokenEnv'), `${where}.authTokenEnv: expected an environment variable name`);
      ok = false;
    }
    const accountSid = value('accountSid');
    if (accountSid !== undefined && (typeof accountSid !== 'string' || !/^AC[0-9a-f]{32}$/.test(accountSid))) {
      at(get('accountSid'), `${where}.accountSid: expected AC followed by 32 hex digits`);
      ok = false;
    }
    const defaultRegion = value('defaultRegion') ?? 'US';
    if (typeof defaultRegion !== 'string' || !/^[A-Z]{2}$/.test(defaultRegion)) {
      at(get('defaultRegion'), `${where}.defaultRegion: expected a two-letter country code`);
      ok = false;
    }
    const rate = value('rateLimitPerMinute') ?? 10;
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1) {
      at(get('rateLimitPerMinute'), `${where}.rateLimitPerMinute: expected a whole number of at least 1`);
      ok = false;
    }
    const replyMaxSegments = value('replyMaxSegments') ?? DEFAULT_REPLY_MAX_SEGMENTS;
    if (typeof replyMaxSegments !== 'number' || !Number.isInteger(replyMaxSegments) || replyMaxSegments < 1) {
      at(get('replyMaxSegments'), `${where}.replyMaxSegments: expected a whole number of at least 1`);
      ok = false;
    }
    const repliesPerKey = value('repliesPerKeyPerMinute') ?? DEFAULT_REPLIES_PER_KEY_PER_MINUTE;
    if (typeof repliesPerKey !== 'number' || !Number.isInteger(repliesPerKey) || repliesPerKey < 1) {
      at(get('repliesPerKeyPerMinute'), `${where}.repliesPerKeyPerMinute: expected a whole number of at least 1`);
      ok = false;
    }
    const autoReply = value('autoReply') ?? true;
    if (typeof autoReply !== 'boolean') {
      at(get('autoReply'), `${where}.autoReply: expected true or false`);
      ok = false;
    }
    const deleteMedia = value('deleteMediaFromTwilio') ?? false;
    if (typeof deleteMedia !== 'boolean') {
      at(get('deleteMediaFromTwilio'), `${where}.deleteMediaFromTwilio: expected true or false`);
      ok = false;
    }
    const apiKeySid = value('apiKeySid');
    if (apiKeySid !== undefined && (typeof apiKeySid !== 'string' || !/^SK[0-9a-f]{32}$/.test(apiKeySid))) {
      at(get('apiKeySid'), `${where}.apiKeySid: expected SK followed by 32 hex digits`);
      ok = false;
    }
    const apiKeySecretEnv = value('apiKeySecretEnv');
    if (apiKeySecretEnv !== undefined && (typeof apiKeySecretEnv !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(apiKeySecretEnv))) {
      at(get('apiKeySecretEnv'), `${where}.apiKeySecretEnv: expected an environment variable name`);
      ok = false;
    }
    if ((apiKeySid === undefined) !== (apiKeySecretEnv === undefined)) {
      at(get('apiKeySid') ?? get('apiKeySecretEnv'), `${where}: apiKeySid and apiKeySecretEnv go together`);
      ok = false;
    }
    const hoursNode = get('businessHours');
    const businessHours = hoursNode ? parseHours(hoursNode, `${where}.businessHours`, at) : undefined;
    if (hoursNode && !businessHours) {
      ok = false;
    }
    const closuresNode = get('closures');
    const closures = closuresNode
      ? parseClosures(closuresNode, `${where}.closures`, Array.isArray(languages) ? (languages as string[]) : ['en'], at, (node) => ({ file, ...lineCounter.linePos(node.range?.[0] ?? 0) }))
      : undefined;
    if (closuresNode && !closures) {
      ok = false;
    }
    const eventsNode = get('events');
    const position = (node: Node): { file: string; line: number; col: number } => ({ file, ...lineCounter.linePos(node.range?.[0] ?? 0) });
    const events = eventsNode ? parseEventEndpoints(eventsNode, `${where}.events`, at, position) : undefined;
    if (eventsNode && !events) {
      ok = false;
    }
    if (!ok || findings.length > before) {
      invalid.push({
        index,
        id: usableId,
        phoneNumbers: phones,
        ...(typeof authTokenEnv === 'string' && /^[A-Z_][A-Z0-9_]*$/.test(authTokenEnv) ? { authTokenEnv } : {}),
        ...(typeof accountSid === 'string' && /^AC[0-9a-f]{32}$/.test(accountSid) ? { accountSid } : {}),
        findings: findings.slice(before),
      });
    } else {
      const clinic: Clinic = {
        id: id as string,
        name: (name as string).trim(),
        phoneNumbers: phones,
        timezone: timezone as string,
        languages: languages as string[],
        defaultRegion: defaultRegion as string,
        rateLimitPerMinute: rate as number,
        replyMaxSegments: replyMaxSegments as number,
        repliesPerKeyPerMinute: repliesPerKey as number,
        autoReply: autoReply as boolean,
      };
      if (typeof officePhone === 'string') {
        clinic.officePhone = officePhone;
      }
      if (typeof authTokenEnv === 'string') {
        clinic.authTokenEnv = authTokenEnv;
      }
      if (typeof accountSid === 'string') {
        clinic.accountSid = accountSid;
      }
      if (businessHours) {
        clinic.businessHours = businessHours;
      }
      if (closures && closures.length > 0) {
        clinic.closures = closures;
      }
      if (events && events.length > 0) {
        clinic.events = events;
      }
      if (deleteMedia === true) {
        clinic.deleteMediaFromTwilio = true;
      }
      if (typeof apiKeySid === 'string' && typeof apiKeySecretEnv === 'string') {
        clinic.apiKeySid = apiKeySid;
        clinic.apiKeySecretEnv = apiKeySecretEnv;
      }
      clinics.push(clinic);
    }
  });
  for (const entry of invalid) {
    entry.findings.sort((a, b) => a.line - b.line || a.col - b.col);
  }
  return { clinics: indexClinics(clinics), invalid };
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

function rootList(doc: Document): { items: unknown[] } | null {
  const contents = doc.contents;
  if (isSeq(contents)) {
    return contents;
  }
  if (isMap(contents)) {
    const list = contents.get('clinics', true);
    if (isSeq(list)) {
      return list;
    }
  }
  return null;
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
    const spans: Weekly[] = [];
    for (const span of (Array.isArray(value) ? value : [value]).filter((s) => s !== null && s !== 'closed')) {
      const m = typeof span === 'string' ? /^\s*(\S+)\s*-\s*(\S+)\s*$/.exec(span) : null;
      if (!m || !HHMM.test(m[1] ?? '') || !HHMM.test(m[2] ?? '') || (m[1] ?? '') >= (m[2] ?? '')) {
        return { problem: `${day}: expected "HH:MM-HH:MM" (24-hour, opening before closing), a list of them, or "closed"` };
      }
      spans.push({ open: m[1] as string, close: m[2] as string });
    }
    hours[day] = spans;
  }
  return { hours };
}

function parseHours(
  node: Node,
  where: string,
  at: (node: Node | null | undefined, message: string) => void,
): Partial<Record<Weekday, Weekly[]>> | undefined {
  if (!isMap(node)) {
    at(node, `${where}: expected a map of weekday to hours, e.g. mon: "08:00-17:00"`);
    return undefined;
  }
  const out: Partial<Record<Weekday, Weekly[]>> = {};
  let ok = true;
  for (const pair of node.items) {
    const day = String((pair.key as { value?: unknown } | null)?.value ?? '').toLowerCase() as Weekday;
    if (!WEEKDAYS.includes(day)) {
      at(pair.key as Node, `${where}: unknown weekday "${day}" (mon, tue, wed, thu, fri, sat, sun)`);
      ok = false;
      continue;
    }
    const raw = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.();
    const spans = (Array.isArray(raw) ? raw : [raw]).filter((s) => s !== null && s !== 'closed');
    const parsed: Weekly[] = [];
    for (const span of spans) {
      const m = typeof span === 'string' ? /^\s*(\S+)\s*-\s*(\S+)\s*$/.exec(span) : null;
      if (!m || !HHMM.test(m[1] ?? '') || !HHMM.test(m[2] ?? '') || (m[1] ?? '') >= (m[2] ?? '')) {
        at(pair.value as Node, `${where}.${day}: expected "HH:MM-HH:MM" (24-hour, opening before closing) or "closed"`);
        ok = false;
        continue;
      }
      parsed.push({ open: m[1] as string, close: m[2] as string });
    }
    out[day] = parsed;
  }
  return ok ? out : undefined;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CLOSURE_KEYS = new Set(['date', 'from', 'to', 'reason', 'reply']);

/** True for a real calendar date written YYYY-MM-DD. */
function isDate(text: unknown): text is string {
  const m = typeof text === 'string' ? DATE.exec(text) : null;
  if (!m) {
    return false;
  }
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/**
 * `closures:` — a list of days the clinic is closed: `date: 2026-12-25` for one day, or
 * `from:` and `to:` (both included); an optional `reason`; an optional `reply`, one text or
 * one text per language of the clinic (plain text: it is sent as written).
 */
function parseClosures(
  node: Node,
  where: string,
  languages: readonly string[],
  at: (node: Node | null | undefined, message: string) => void,
  position: (node: Node) => { file: string; line: number; col: number },
): Closure[] | undefined {
  if (!isSeq(node)) {
    at(node, `${where}: expected a list of closures, e.g. - { date: 2026-12-25, reason: Christmas Day }`);
    return undefined;
  }
  const out: Closure[] = [];
  let ok = true;
  node.items.forEach((item, i) => {
    const here = `${where}[${i}]`;
    const fail = (n: Node | null | undefined, message: string): void => {
      at(n, `${here}${message}`);
      ok = false;
    };
    if (!isMap(item)) {
      fail(item as Node, ': expected a map with date (or from and to), and optional reason and reply');
      return;
    }
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (!CLOSURE_KEYS.has(key)) {
        fail(pair.key as Node, `: unknown field "${key}" (date, from, to, reason, reply)`);
      }
    }
    const get = (key: string): Node | undefined => item.get(key, true) as Node | undefined;
    const value = (key: string): unknown => (get(key) as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? undefined;
    const date = value('date');
    const from = value('from') ?? date;
    const to = value('to') ?? date;
    if (date !== undefined && (value('from') !== undefined || value('to') !== undefined)) {
      fail(get('date'), ': give date (one day) or from and to (a range), not both');
      return;
    }
    if (from === undefined || to === undefined) {
      fail(item, ': needs date: YYYY-MM-DD, or from: and to:');
      return;
    }
    for (const [key, text] of date !== undefined ? ([['date', date]] as const) : ([['from', from], ['to', to]] as const)) {
      if (!isDate(text)) {
        fail(get(date !== undefined ? 'date' : key), `.${date !== undefined ? 'date' : key}: "${String(text)}" is not a date written YYYY-MM-DD`);
      }
    }
    if (isDate(from) && isDate(to) && to < from) {
      fail(get('to'), `.to: ${to} is before from: ${from}`);
    }
    const closure: Closure = { from: String(from), to: String(to), source: position(item) };
    const reason = value('reason');
    if (reason !== undefined) {
      if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 100) {
        fail(get('reason'), '.reason: expected a short text (at most 100 characters)');
      } else {
        closure.reason = reason.trim();
      }
    }
    const reply = value('reply');
    if (reply !== undefined) {
      const texts: Array<[string, unknown]> = typeof reply === 'string' ? [['*', reply]] : reply !== null && typeof reply === 'object' && !Array.isArray(reply) ? Object.entries(reply) : [];
      if (texts.length === 0) {
        fail(get('reply'), '.reply: expected a text, or a text per language (en: ..., es: ...)');
      }
      const byLanguage: Record<string, string> = {};
      for (const [language, text] of texts) {
        if (language !== '*' && !languages.includes(language)) {
          fail(get('reply'), `.reply.${language}: the clinic's languages are ${languages.join(', ')}`);
        } else if (typeof text !== 'string' || text.trim() === '') {
          fail(get('reply'), `.reply${language === '*' ? '' : `.${language}`}: expected a text`);
        } else if (text.includes('{{')) {
          fail(get('reply'), `.reply${language === '*' ? '' : `.${language}`}: a closure's reply is sent as written: {{merge fields}} are not filled`);
        } else {
          byLanguage[language] = text;
        }
      }
      closure.reply = byLanguage;
    }
    out.push(closure);
  });
  return ok ? out : undefined;
}

/** Reads and parses the clinics file at `path`. */
export async function loadClinicsFile(path: string): Promise<ClinicsFile> {
  return parseClinics(await readClinicsText(path), path);
}

/** Reads the clinics file at `path` entry by entry (see readClinics). */
export async function readClinicsFile(path: string): Promise<ClinicsFileRead> {
  return readClinics(await readClinicsText(path), path);
}

async function readClinicsText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError('CONFIG_INVALID', `cannot read clinics file ${path}`, {
      cause,
      findings: [fileFinding(path, `cannot read: ${(cause as Error).message}`)],
    });
  }
}
