import { dirname, isAbsolute, join } from 'node:path';
import { businessHoursFrom } from '../../config/clinics-file.js';
import { APPOINTMENT_STATUSES, STAFF_REASONS, type AppointmentStatus, type StaffReason, type Weekday, type Weekly } from '../../domain.js';
import type { Finding } from '../../errors.js';
import { isE164 } from '../../phone.js';
import { parseYamlSource, type JsonPath, type YamlSource } from '../../config/yaml-source.js';

/** When a case does not say: Wednesday 9 January 2030, 10:00 in the clinic's time zone. */
export const DEFAULT_AT = '2030-01-09 10:00';
export const DEFAULT_FROM = '+13125550142';

export type ReplyExpectation = { text: string } | { pattern: RegExp; source: string } | { none: true };

export interface CasePatient {
  id: string;
  firstName: string;
  lastName: string;
  language?: string;
}

export interface CaseAppointment {
  id: string;
  patientId: string;
  /** An instant, or "clinic-local" text, or an offset from the case's time. */
  startsAt: { iso: string } | { inMs: number };
  status: AppointmentStatus;
  provider?: string;
}

export interface CaseExpectation {
  rules?: string[];
  actions?: string[];
  reply?: ReplyExpectation;
  status?: string;
  after?: {
    optedOut?: boolean;
    appointments?: Record<string, AppointmentStatus>;
    /**
     * Why the message reached the sender's staff conversation, once a reason each time it
     * was put there ([]: it did not). Written `conversation`, or `inbox` (its older name).
     */
    conversation?: { reasons: StaffReason[]; key: 'conversation' | 'inbox' };
  };
}

export interface TestCase {
  /** The clinic's business hours for this case ("always": none, open around the clock), over the clinics file's. */
  businessHours?: 'always' | Partial<Record<Weekday, Weekly[]>>;
  name: string;
  file: string;
  line: number;
  col: number;
  clinic: string;
  at: string;
  from: string;
  to?: string;
  optedOut: boolean;
  patients: CasePatient[];
  appointments: CaseAppointment[];
  message: string;
  media: string[];
  twilioOptOutType?: string;
  expect: CaseExpectation;
  /**
   * A conversation: several messages from the sender in order, each with what must happen
   * (its own expect), on one database, `wait` after the one before (default 1 minute).
   * Absent: the case is the one `message`.
   */
  steps?: CaseStep[];
}

export interface CaseStep {
  message: string;
  /** Time since the previous message (ms). */
  waitMs: number;
  expect: CaseExpectation;
  line: number;
  col: number;
}

export interface TestFile {
  file: string;
  /** Overrides of where rules and clinics come from, relative to the test file. */
  rulesDir?: string;
  clinicsFile?: string;
  cases: TestCase[];
  findings: Finding[];
}

const FILE_KEYS = ['clinic', 'at', 'rulesDir', 'clinicsFile', 'tests'];
const CASE_KEYS = ['name', 'clinic', 'at', 'from', 'to', 'optedOut', 'patients', 'appointments', 'message', 'messages', 'conversation', 'media', 'twilioOptOutType', 'businessHours', 'expect'];
const STEP_KEYS = ['message', 'wait', 'expect'];
const STEP_GAP_MS = 60_000;
const EXPECT_KEYS = ['rules', 'actions', 'reply', 'status', 'after'];
const AFTER_KEYS = ['optedOut', 'appointments', 'conversation', 'inbox'];
const DURATION = /^(\d+(?:\.\d+)?)\s*(m|h|d)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a YAML test file (rules/tests/*.yaml) and checks its shape; every problem is a
 * finding with file:line:col. See rules/README.md ("Testing a change") for the format.
 * @param text - the file's content
 * @param file - its path
 * @param options - defaultAt: the time of cases that give none, neither on the case nor at the top of the file (`rules test --at`)
 */
export function parseTestFile(text: string, file: string, options: { defaultAt?: string } = {}): TestFile {
  const source = parseYamlSource(text, file);
  const out: TestFile = { file, cases: [], findings: source.syntaxFindings.filter((f) => f.severity !== 'warning') };
  if (out.findings.length > 0) {
    return out;
  }
  const v = new Validator(source, out.findings);
  const root = source.data;
  if (!isRecord(root)) {
    v.fail([], 'expected a map with a "tests" list');
    return out;
  }
  v.keys(root, [], FILE_KEYS);
  const base = dirname(file);
  const rel = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  if (root.rulesDir !== undefined) {
    out.rulesDir = rel(v.text(root.rulesDir, ['rulesDir']) ?? '');
  }
  if (root.clinicsFile !== undefined) {
    out.clinicsFile = rel(v.text(root.clinicsFile, ['clinicsFile']) ?? '');
  }
  const defaultClinic = root.clinic === undefined ? undefined : v.text(root.clinic, ['clinic']);
  const fallbackAt = options.defaultAt ?? DEFAULT_AT;
  const defaultAt = root.at === undefined ? fallbackAt : (v.time(root.at, ['at']) ?? fallbackAt);
  if (!Array.isArray(root.tests) || root.tests.length === 0) {
    v.fail(root.tests === undefined ? [] : ['tests'], 'expected "tests": a list of test cases');
    return out;
  }
  const names = new Set<string>();
  root.tests.forEach((raw: unknown, i) => {
    const path: JsonPath = ['tests', i];
    if (!isRecord(raw)) {
      v.fail(path, `tests[${i}]: expected a map`);
      return;
    }
    const before = out.findings.length;
    v.keys(raw, path, CASE_KEYS);
    const name = v.text(raw.name, [...path, 'name'], `tests[${i}].name`) ?? `tests[${i}]`;
    if (names.has(name)) {
      v.fail([...path, 'name'], `tests[${i}].name: "${name}" is used by another case in this file`);
    }
    names.add(name);
    const clinic = raw.clinic === undefined ? defaultClinic : v.text(raw.clinic, [...path, 'clinic']);
    if (clinic === undefined) {
      v.fail(path, `tests[${i}]: no clinic (set "clinic" on the case or at the top of the file)`);
    }
    const from = raw.from === undefined ? DEFAULT_FROM : v.text(raw.from, [...path, 'from']);
    if (from !== undefined && !isE164(from)) {
      v.fail([...path, 'from'], `tests[${i}].from: "${from}" is not an E.164 number (e.g. +13125550142)`);
    }
    const to = raw.to === undefined ? undefined : v.text(raw.to, [...path, 'to']);
    // `messages: [STOP, Stop!, " stop "]` runs the case once per message (every variant of a keyword).
    let messages: string[] = [];
    let steps: CaseStep[] | undefined;
    if (raw.conversation !== undefined) {
      steps = parseSteps(v, source, raw.conversation, [...path, 'conversation']);
      messages = steps.length > 0 ? [steps[0]?.message ?? ''] : [];
      for (const other of ['message', 'messages', 'expect'] as const) {
        if (raw[other] !== undefined) {
          v.fail([...path, other], `tests[${i}]: a conversation gives each message its own expect: no "${other}" next to "conversation"`, true);
        }
      }
    } else if (raw.messages !== undefined) {
      messages = v.list(raw.messages, [...path, 'messages']);
      if (raw.message !== undefined) {
        v.fail([...path, 'message'], `tests[${i}]: give "message" or "messages", not both`);
      }
    } else if (raw.message === undefined) {
      v.fail(path, `tests[${i}]: missing "message" (the text the patient sends; "" for media only)`);
    } else {
      const one = typeof raw.message === 'number' ? String(raw.message) : v.text(raw.message, [...path, 'message'], `tests[${i}].message`, true);
      messages = one === undefined ? [] : [one];
    }
    const patients = parsePatients(v, raw.patients, [...path, 'patients']);
    const appointments = parseAppointments(v, raw.appointments, [...path, 'appointments'], patients);
    const media = raw.media === undefined ? [] : v.list(raw.media, [...path, 'media']);
    const expectation = steps ? {} : parseExpectation(v, raw.expect, [...path, 'expect']);
    const at = raw.at === undefined ? defaultAt : v.time(raw.at, [...path, 'at']);
    const optedOut = raw.optedOut === undefined ? false : v.bool(raw.optedOut, [...path, 'optedOut']);
    // The clinic's hours the case relies on, stated so that it holds whatever the clinics file says: "always" (no hours) or weekday spans.
    let businessHours: TestCase['businessHours'];
    if (raw.businessHours === 'always') {
      businessHours = 'always';
    } else if (raw.businessHours !== undefined) {
      const read = businessHoursFrom(raw.businessHours);
      if ('problem' in read) {
        v.fail([...path, 'businessHours'], `businessHours: ${read.problem}, or "always" (open around the clock)`);
      } else {
        businessHours = read.hours;
      }
    }
    if (out.findings.length > before) {
      return;
    }
    const pos = source.findingAt(path, '');
    messages.forEach((message, m) => {
      const testCase: TestCase = {
        name: messages.length > 1 || raw.messages !== undefined ? `${name} [${JSON.stringify(message)}]` : name,
        file,
        line: pos.line,
        col: pos.col,
        clinic: clinic as string,
        at: at as string,
        from: from as string,
        optedOut: optedOut === true,
        patients,
        appointments,
        message,
        media,
        expect: expectation,
      };
      if (to !== undefined) {
        testCase.to = to;
      }
      if (businessHours !== undefined) {
        testCase.businessHours = businessHours;
      }
      if (typeof raw.twilioOptOutType === 'string') {
        testCase.twilioOptOutType = raw.twilioOptOutType;
      }
      if (steps) {
        testCase.steps = steps;
      }
      if (raw.messages !== undefined) {
        const at = source.findingAt([...path, 'messages', m], '');
        testCase.line = at.line;
        testCase.col = at.col;
      }
      out.cases.push(testCase);
    });
  });
  return out;
}

/** `conversation: [{ message, wait?, expect }, ...]`: the messages of one case, in order. */
function parseSteps(v: Validator, source: YamlSource, raw: unknown, path: JsonPath): CaseStep[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    v.fail(path, 'conversation: expected a list of messages, each { message, expect } (and optional wait: 25h)');
    return [];
  }
  return raw.flatMap((step: unknown, i): CaseStep[] => {
    const at: JsonPath = [...path, i];
    if (typeof step === 'string' || typeof step === 'number') {
      const pos = source.findingAt(at, '');
      return [{ message: String(step), waitMs: STEP_GAP_MS, expect: {}, line: pos.line, col: pos.col }];
    }
    if (!isRecord(step)) {
      v.fail(at, `conversation[${i}]: expected { message, expect }`);
      return [];
    }
    v.keys(step, at, STEP_KEYS);
    const message = step.message === undefined ? undefined : typeof step.message === 'number' ? String(step.message) : v.text(step.message, [...at, 'message'], `conversation[${i}].message`, true);
    if (message === undefined) {
      v.fail(at, `conversation[${i}]: missing "message"`);
      return [];
    }
    let waitMs = STEP_GAP_MS;
    if (step.wait !== undefined) {
      const m = typeof step.wait === 'string' ? DURATION.exec(step.wait.trim()) : null;
      if (!m) {
        v.fail([...at, 'wait'], `conversation[${i}].wait: expected a duration like 30m, 25h or 2d`);
      } else {
        waitMs = Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
      }
    }
    const pos = source.findingAt([...at, 'message'], '');
    const expectation = step.expect === undefined ? {} : parseExpectation(v, step.expect, [...at, 'expect']);
    return [{ message, waitMs, expect: expectation, line: pos.line, col: pos.col }];
  });
}

function parsePatients(v: Validator, raw: unknown, path: JsonPath): CasePatient[] {
  if (raw === undefined) {
    return [];
  }
  if (!Array.isArray(raw)) {
    v.fail(path, 'patients: expected a list of patients on the sender\'s number');
    return [];
  }
  return raw.flatMap((p: unknown, i): CasePatient[] => {
    const at = [...path, i];
    if (!isRecord(p)) {
      v.fail(at, 'patients: each patient is a map (firstName, lastName, language, id)');
      return [];
    }
    v.keys(p, at, ['id', 'firstName', 'lastName', 'language']);
    const patient: CasePatient = {
      id: p.id === undefined ? `p${i + 1}` : (v.text(p.id, [...at, 'id']) ?? ''),
      firstName: p.firstName === undefined ? `Patient${i + 1}` : (v.text(p.firstName, [...at, 'firstName']) ?? ''),
      lastName: p.lastName === undefined ? 'Test' : (v.text(p.lastName, [...at, 'lastName']) ?? ''),
    };
    if (p.language !== undefined) {
      patient.language = v.text(p.language, [...at, 'language']) ?? '';
    }
    return [patient];
  });
}

function parseAppointments(v: Validator, raw: unknown, path: JsonPath, patients: readonly CasePatient[]): CaseAppointment[] {
  if (raw === undefined) {
    return [];
  }
  if (!Array.isArray(raw)) {
    v.fail(path, 'appointments: expected a list');
    return [];
  }
  return raw.flatMap((a: unknown, i): CaseAppointment[] => {
    const at = [...path, i];
    if (!isRecord(a)) {
      v.fail(at, 'appointments: each appointment is a map (startsIn or startsAt, status, patient, provider, id)');
      return [];
    }
    v.keys(a, at, ['id', 'patient', 'startsAt', 'startsIn', 'status', 'provider']);
    const patientId = a.patient === undefined ? patients[0]?.id : v.text(a.patient, [...at, 'patient']);
    if (patientId === undefined) {
      v.fail(at, 'appointments: an appointment needs a patient on the number (add "patients")');
    } else if (!patients.some((p) => p.id === patientId)) {
      v.fail([...at, 'patient'], `appointments: no patient "${patientId}" in this case (ids: ${patients.map((p) => p.id).join(', ')})`);
    }
    let startsAt: CaseAppointment['startsAt'] | undefined;
    if (a.startsIn !== undefined) {
      const m = DURATION.exec(String(a.startsIn).trim());
      if (!m) {
        v.fail([...at, 'startsIn'], 'startsIn: expected a duration like 90m, 26h or 2d');
      } else {
        startsAt = { inMs: Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0) };
      }
    } else if (a.startsAt !== undefined) {
      const iso = v.time(a.startsAt, [...at, 'startsAt']);
      startsAt = iso === undefined ? undefined : { iso };
    } else {
      v.fail(at, 'appointments: give startsIn (e.g. 2d) or startsAt');
    }
    const status = a.status === undefined ? 'scheduled' : v.text(a.status, [...at, 'status']);
    if (status !== undefined && !(APPOINTMENT_STATUSES as readonly string[]).includes(status)) {
      v.fail([...at, 'status'], `status: "${status}" is not one of ${APPOINTMENT_STATUSES.join(', ')}`);
    }
    const appointment: CaseAppointment = {
      id: a.id === undefined ? `a${i + 1}` : (v.text(a.id, [...at, 'id']) ?? ''),
      patientId: patientId ?? '',
      startsAt: startsAt ?? { inMs: 0 },
      status: (status ?? 'scheduled') as AppointmentStatus,
    };
    if (a.provider !== undefined) {
      appointment.provider = v.text(a.provider, [...at, 'provider']) ?? '';
    }
    return [appointment];
  });
}

function parseExpectation(v: Validator, raw: unknown, path: JsonPath): CaseExpectation {
  if (!isRecord(raw)) {
    v.fail(path, 'expect: expected a map (rules, actions, reply, status, after)');
    return {};
  }
  v.keys(raw, path, EXPECT_KEYS);
  const out: CaseExpectation = {};
  if (raw.rules !== undefined) {
    out.rules = v.list(raw.rules, [...path, 'rules']);
  }
  if (raw.actions !== undefined) {
    out.actions = v.list(raw.actions, [...path, 'actions']);
  }
  if ('reply' in raw) {
    out.reply = parseReply(v, raw.reply, [...path, 'reply']);
  }
  if (raw.status !== undefined) {
    out.status = v.text(raw.status, [...path, 'status']);
  }
  if (raw.after !== undefined) {
    const after = raw.after;
    const at = [...path, 'after'];
    if (!isRecord(after)) {
      v.fail(at, 'after: expected a map (optedOut, appointments, conversation)');
      return out;
    }
    v.keys(after, at, AFTER_KEYS);
    out.after = {};
    if (after.optedOut !== undefined) {
      const b = v.bool(after.optedOut, [...at, 'optedOut']);
      if (b !== undefined) {
        out.after.optedOut = b;
      }
    }
    if (after.appointments !== undefined) {
      if (!isRecord(after.appointments)) {
        v.fail([...at, 'appointments'], 'after.appointments: expected a map of appointment id to status');
      } else {
        for (const [id, status] of Object.entries(after.appointments)) {
          if (!(APPOINTMENT_STATUSES as readonly unknown[]).includes(status)) {
            v.fail([...at, 'appointments', id], `after.appointments.${id}: "${String(status)}" is not one of ${APPOINTMENT_STATUSES.join(', ')}`);
          }
        }
        out.after.appointments = after.appointments as Record<string, AppointmentStatus>;
      }
    }
    if (after.conversation !== undefined && after.inbox !== undefined) {
      v.fail([...at, 'inbox'], 'after: give conversation or inbox (its older name), not both');
    }
    const key = after.conversation !== undefined ? 'conversation' : 'inbox';
    if (after[key] !== undefined) {
      const reasons = v.list(after[key], [...at, key]);
      reasons.forEach((r, i) => {
        if (!(STAFF_REASONS as readonly string[]).includes(r)) {
          v.fail([...at, key, i], `after.${key}: "${r}" is not one of ${STAFF_REASONS.join(', ')}`);
        }
      });
      out.after.conversation = { reasons: reasons as StaffReason[], key };
    }
  }
  return out;
}

/** reply: "exact text", "/pattern/flags", or null / none for no reply. */
function parseReply(v: Validator, raw: unknown, path: JsonPath): ReplyExpectation | undefined {
  if (raw === null || raw === 'none') {
    return { none: true };
  }
  const text = v.text(raw, path, 'reply');
  if (text === undefined) {
    return undefined;
  }
  const m = /^\/(.*)\/([a-z]*)$/s.exec(text);
  if (!m) {
    return { text };
  }
  try {
    return { pattern: new RegExp(m[1] as string, m[2]), source: text };
  } catch (err) {
    v.fail(path, `reply: invalid pattern ${text}: ${(err as Error).message}`);
    return undefined;
  }
}

class Validator {
  constructor(
    private readonly source: YamlSource,
    private readonly findings: Finding[],
  ) {}

  fail(path: JsonPath, message: string, key = false): void {
    this.findings.push(this.source.findingAt(path, message, { key }));
  }

  keys(value: Record<string, unknown>, path: JsonPath, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.fail([...path, key], `unknown field "${key}" (expected ${allowed.join(', ')})`, true);
      }
    }
  }

  text(value: unknown, path: JsonPath, label = String(path[path.length - 1] ?? ''), allowEmpty = false): string | undefined {
    if (typeof value === 'string' && (allowEmpty || value.trim() !== '')) {
      return value;
    }
    this.fail(path, `${label}: expected text`);
    return undefined;
  }

  bool(value: unknown, path: JsonPath): boolean | undefined {
    if (typeof value === 'boolean') {
      return value;
    }
    this.fail(path, `${String(path[path.length - 1])}: expected true or false`);
    return undefined;
  }

  list(value: unknown, path: JsonPath): string[] {
    if (Array.isArray(value) && value.every((x) => typeof x === 'string')) {
      return value as string[];
    }
    this.fail(path, `${String(path[path.length - 1])}: expected a list of text`);
    return [];
  }

  /** An ISO instant with a zone, or "YYYY-MM-DD HH:MM" in the clinic's time zone. */
  time(value: unknown, path: JsonPath): string | undefined {
    const text = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value.trim() : '';
    if (ZONED.test(text) || LOCAL.test(text)) {
      return text;
    }
    this.fail(path, `${String(path[path.length - 1])}: expected "2030-01-09 10:00" (clinic time) or an ISO time with a zone`);
    return undefined;
  }
}

const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const LOCAL = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$/;

/**
 * The instant of a case time: zoned ISO text as is, "YYYY-MM-DD HH:MM" as wall-clock
 * time in `timeZone`.
 */
export function resolveTime(text: string, timeZone: string): Date {
  if (ZONED.test(text)) {
    return new Date(text);
  }
  const [date, time] = text.split(/[T ]/) as [string, string];
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi, s] = time.split(':').map(Number) as [number, number, number | undefined];
  const wall = Date.UTC(y, mo - 1, d, h, mi, s ?? 0);
  // Two passes settle the offset also next to a daylight-saving change.
  let guess = wall - offsetMs(new Date(wall), timeZone);
  guess = wall - offsetMs(new Date(guess), timeZone);
  return new Date(guess);
}

function offsetMs(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
