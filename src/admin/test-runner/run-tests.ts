import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { indexClinics } from '../../config/clinics-file.js';
import { isDeepStrictEqual } from 'node:util';
import { RESPONSE_KINDS, appointmentStatus, type Appointment, type AppointmentStatus, type Clinic, type InboundMessage, type Patient, type StaffReason, type StaffRouting } from '../../domain.js';
import { MemoryConversationStore } from '../../conversations/memory-conversation-store.js';
import { conversationRouting } from '../../conversations/staff-routing.js';
import { errorCode, fileFinding, findingsOf, formatFindings, isAppError, type Finding } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { createMetrics } from '../../metrics.js';
import { buildSnapshot } from '../../service/build-snapshot.js';
import { handleMessage } from '../../service/handle-message.js';
import type { Snapshot } from '../../service/live-config.js';
import { MemoryStore } from '../../store/memory/memory-store.js';
import { parseTestFile, resolveTime, type CaseExpectation, type ReplyExpectation, type TestCase } from './test-file.js';

export interface RunOptions {
  rulesDir: string;
  clinicsFile: string;
  /** The time of cases that give none (`rules test --at`): "2030-12-25 10:00" clinic-local, or ISO with a zone. */
  at?: string;
}

export interface Mismatch {
  field: string;
  expected: unknown;
  actual: unknown;
}

export interface CaseResult {
  name: string;
  file: string;
  line: number;
  col: number;
  passed: boolean;
  mismatches: Mismatch[];
  /** What happened, for the report. */
  actual: ActualOutcome | null;
  /** Set when the case could not run (unknown clinic, the pipeline threw). */
  error?: string;
}

export interface ActualOutcome {
  status: string;
  rules: string[];
  actions: string[];
  reply: string | null;
  /** conversation: why the message reached the sender's staff conversation, sorted. */
  after: { optedOut: boolean; appointments: Record<string, string>; conversation: StaffReason[] };
}

export interface FileResult {
  file: string;
  /** Problems with the test file itself, or with the rules and clinics it runs on. */
  findings: Finding[];
  cases: CaseResult[];
}

export interface TestReport {
  ok: boolean;
  passed: number;
  failed: number;
  /** Test files that could not run (bad test file, or the rules or clinics they need are invalid). */
  invalidFiles: number;
  files: FileResult[];
}

/**
 * Runs YAML test cases through the real pipeline (handleMessage: the same facts, rules,
 * actions and reply choice as the webhook) on a fresh in-memory store per case.
 * @param files - test files
 * @param options - default rules folder and clinics file (a test file may name its own)
 */
export async function runTestFiles(files: readonly string[], options: RunOptions): Promise<TestReport> {
  const report: TestReport = { ok: true, passed: 0, failed: 0, invalidFiles: 0, files: [] };
  const snapshots = new Map<string, Promise<Snapshot>>();
  for (const file of files) {
    const result: FileResult = { file, findings: [], cases: [] };
    report.files.push(result);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      result.findings.push(fileFinding(file, `cannot read: ${errorCode(err) ?? (err as Error).message}`));
      continue;
    }
    const parsed = parseTestFile(text, file, options.at === undefined ? {} : { defaultAt: options.at });
    result.findings.push(...parsed.findings);
    if (parsed.findings.length > 0) {
      continue;
    }
    const rulesDir = parsed.rulesDir ?? options.rulesDir;
    const clinicsFile = parsed.clinicsFile ?? options.clinicsFile;
    const key = `${rulesDir}\u0000${clinicsFile}`;
    if (!snapshots.has(key)) {
      // No tokens: the cases run past the HTTP edge, where signatures are checked. No delivery
      // secrets either: the cases send nothing (an events endpoint must not stop the admins' test step).
      snapshots.set(key, buildSnapshot({ rulesDir, clinicsFile, authTokens: [], signatureValidation: false, deliverySecrets: false }, {}));
    }
    let snapshot: Snapshot;
    try {
      snapshot = await (snapshots.get(key) as Promise<Snapshot>);
    } catch (err) {
      if (!isAppError(err)) {
        throw err;
      }
      result.findings.push(...findingsOf(err, file));
      continue;
    }
    for (const testCase of parsed.cases) {
      result.cases.push(await runCase(testCase, snapshot));
    }
  }
  for (const file of report.files) {
    report.passed += file.cases.filter((c) => c.passed).length;
    report.failed += file.cases.filter((c) => !c.passed).length;
    report.invalidFiles += file.findings.length > 0 ? 1 : 0;
    file.findings.sort((a, b) => a.line - b.line || a.col - b.col);
  }
  report.ok = report.failed === 0 && report.invalidFiles === 0 && report.passed > 0;
  return report;
}

/**
 * Runs one case: a fresh store holding only the case's patients, appointments and
 * opt-out, the message at the case's time, then compares what happened.
 */
export async function runCase(testCase: TestCase, snapshot: Snapshot): Promise<CaseResult> {
  const result: CaseResult = { name: testCase.name, file: testCase.file, line: testCase.line, col: testCase.col, passed: false, mismatches: [], actual: null };
  const listed = snapshot.clinics.byId.get(testCase.clinic);
  if (!listed) {
    result.error = `no clinic "${testCase.clinic}" (clinics: ${[...snapshot.clinics.byId.keys()].join(', ')})`;
    return result;
  }
  // Hours the case states win over the clinics file's, so the case holds whatever an admin changes there.
  const { clinic, snapshot: caseSnapshot } = withStatedHours(listed, testCase, snapshot);
  snapshot = caseSnapshot;
  const at = resolveTime(testCase.at, clinic.timezone);
  const store = new MemoryStore();
  await store.init();
  const patients: Patient[] = testCase.patients.map((p) => ({ ...p, clinicId: clinic.id, phone: testCase.from }));
  const appointments: Appointment[] = testCase.appointments.map((a) => {
    const appointment: Appointment = {
      id: a.id,
      clinicId: clinic.id,
      patientId: a.patientId,
      startsAt: 'iso' in a.startsAt ? resolveTime(a.startsAt.iso, clinic.timezone) : new Date(at.getTime() + a.startsAt.inMs),
      ...givenAppointmentStatus(a.status, at),
    };
    if (a.provider !== undefined) {
      appointment.provider = a.provider;
    }
    return appointment;
  });
  await store.upsertPatients(patients);
  store.putAppointments(appointments);
  if (testCase.optedOut) {
    await store.setOptOut({ clinicId: clinic.id, phone: testCase.from, optedOut: true, changedAt: new Date(at.getTime() - 86_400_000), keyword: 'STOP' });
  }
  const steps = testCase.steps ?? [{ message: testCase.message, waitMs: 0, expect: testCase.expect, line: testCase.line, col: testCase.col }];
  let when = at;
  for (const [i, step] of steps.entries()) {
    when = i === 0 ? at : new Date(when.getTime() + step.waitMs);
    const ran = await runMessage(testCase, snapshot, clinic, store, appointments, step.message, when);
    if ('error' in ran) {
      result.error = steps.length > 1 ? `conversation[${i}] ${JSON.stringify(step.message)}: ${ran.error}` : ran.error;
      return result;
    }
    result.actual = ran.actual;
    const label = steps.length > 1 || testCase.steps ? `conversation[${i}] ${JSON.stringify(step.message)}: ` : '';
    result.mismatches.push(...compare(step.expect, ran.actual).map((m) => ({ ...m, field: `${label}${m.field}` })));
  }
  result.passed = result.mismatches.length === 0;
  return result;
}

/** One message of a case through the real pipeline at `at`, and what it did. */
async function runMessage(
  testCase: TestCase,
  snapshot: Snapshot,
  clinic: Clinic,
  store: MemoryStore,
  appointments: readonly Appointment[],
  body: string,
  at: Date,
): Promise<{ actual: ActualOutcome } | { error: string }> {
  const message: InboundMessage = {
    messageSid: `SM${randomBytes(16).toString('hex')}`,
    from: testCase.from,
    to: testCase.to ?? clinic.phoneNumbers[0] ?? '',
    body,
    numMedia: testCase.media.length,
    media: testCase.media.map((contentType, i) => ({ url: `https://api.twilio.com/media/ME${i}`, contentType })),
    extra: {},
  };
  if (testCase.twilioOptOutType !== undefined) {
    message.optOutType = testCase.twilioOptOutType;
  }
  const routedFor: StaffReason[] = [];
  const deps = { store, staff: noting(conversationRouting(new MemoryConversationStore(store)), routedFor), logger: createLogger('silent'), metrics: createMetrics(), clock: () => at };
  let outcome;
  try {
    outcome = await handleMessage(deps, snapshot, message, 'webhook', at);
  } catch (err) {
    return { error: `the pipeline failed: ${errorCode(err) ?? ''} ${(err as Error).message}`.trim() };
  }
  const record = await store.getMessage(message.messageSid);
  const appointmentsAfter: Record<string, string> = {};
  for (const a of appointments) {
    const stored = await store.getAppointment(a.id);
    appointmentsAfter[a.id] = stored ? appointmentStatus(stored) : 'missing';
  }
  return {
    actual: {
      status: outcome.status,
      rules: record?.rulesFired ?? [],
      actions: (record?.actions ?? []).map((a) => `${a.type}:${a.outcome}`),
      reply: outcome.reply,
      after: {
        optedOut: (await store.getOptOut(clinic.id, testCase.from))?.optedOut === true,
        appointments: appointmentsAfter,
        conversation: [...routedFor].sort(),
      },
    },
  };
}

/** The clinic with the business hours the case states (and a snapshot serving it), or as listed. */
function withStatedHours(listed: Clinic, testCase: TestCase, snapshot: Snapshot): { clinic: Clinic; snapshot: Snapshot } {
  if (testCase.businessHours === undefined) {
    return { clinic: listed, snapshot };
  }
  const { businessHours: _listedHours, ...rest } = listed;
  const clinic: Clinic = testCase.businessHours === 'always' ? rest : { ...rest, businessHours: testCase.businessHours };
  const clinics = indexClinics(snapshot.clinics.clinics.map((c) => (c.id === clinic.id ? clinic : c)));
  return { clinic, snapshot: { ...snapshot, clinics } };
}

/** The staff port, noting why each message it passes on to the conversations went there. */
function noting(staff: StaffRouting, reasons: StaffReason[]): StaffRouting {
  return {
    async routed(item) {
      await staff.routed(item);
      reasons.push(item.reason);
    },
  };
}

/**
 * A case's status as the store keeps it: what a patient says by SMS (confirmed, a
 * request) as their response, from a message a day before the case's; scheduled and
 * cancelled as the practice's.
 * @param status - the status the patient sees
 * @param at - the case's time
 */
export function givenAppointmentStatus(status: AppointmentStatus, at: Date): Pick<Appointment, 'status' | 'patientResponse'> {
  const kind = RESPONSE_KINDS.find((k) => k === status);
  if (kind === undefined) {
    return { status: status as Appointment['status'] };
  }
  return { status: 'scheduled', patientResponse: { kind, at: new Date(at.getTime() - 86_400_000), messageSid: `SM${'0'.repeat(32)}` } };
}

function compare(exp: CaseExpectation, actual: ActualOutcome): Mismatch[] {
  const out: Mismatch[] = [];
  if (exp.status !== undefined && exp.status !== actual.status) {
    out.push({ field: 'status', expected: exp.status, actual: actual.status });
  }
  if (exp.rules !== undefined && !isDeepStrictEqual(exp.rules, actual.rules)) {
    out.push({ field: 'rules', expected: exp.rules, actual: actual.rules });
  }
  if (exp.actions !== undefined) {
    // "confirm-appointment" checks the action only; "confirm-appointment:confirmed" its outcome too.
    const shown = actual.actions.map((a, i) => (exp.actions?.[i]?.includes(':') ? a : a.split(':')[0]));
    if (!isDeepStrictEqual(exp.actions, shown)) {
      out.push({ field: 'actions', expected: exp.actions, actual: actual.actions });
    }
  }
  if (exp.reply !== undefined && !replyMatches(exp.reply, actual.reply)) {
    out.push({ field: 'reply', expected: describeReply(exp.reply), actual: actual.reply });
  }
  const after = exp.after;
  if (after?.optedOut !== undefined && after.optedOut !== actual.after.optedOut) {
    out.push({ field: 'after.optedOut', expected: after.optedOut, actual: actual.after.optedOut });
  }
  for (const [id, status] of Object.entries(after?.appointments ?? {})) {
    if (actual.after.appointments[id] !== status) {
      out.push({ field: `after.appointments.${id}`, expected: status, actual: actual.after.appointments[id] ?? 'no such appointment' });
    }
  }
  const conversation = after?.conversation;
  if (conversation !== undefined && !isDeepStrictEqual([...conversation.reasons].sort(), actual.after.conversation)) {
    out.push({ field: `after.${conversation.key}`, expected: conversation.reasons, actual: actual.after.conversation });
  }
  return out;
}

function replyMatches(expected: ReplyExpectation, actual: string | null): boolean {
  if ('none' in expected) {
    return actual === null;
  }
  if (actual === null) {
    return false;
  }
  return 'text' in expected ? expected.text === actual : expected.pattern.test(actual);
}

function describeReply(expected: ReplyExpectation): unknown {
  return 'none' in expected ? null : 'text' in expected ? expected.text : expected.source;
}

/** The text admins read: each failing case named with its place, expected against actual. */
export function formatTestReport(report: TestReport): string {
  const lines: string[] = [];
  for (const file of report.files) {
    lines.push(file.file);
    if (file.findings.length > 0) {
      lines.push(...formatFindings(file.findings).split('\n').map((l) => `  ${l}`));
    }
    for (const c of file.cases) {
      if (c.passed) {
        lines.push(`  ok    ${c.name}`);
        continue;
      }
      lines.push(`  FAIL  ${c.name} (${c.file}:${c.line}:${c.col})`);
      if (c.error) {
        lines.push(`        ${c.error}`);
      }
      for (const m of c.mismatches) {
        lines.push(`        ${m.field}:`);
        lines.push(`          expected: ${show(m.expected)}`);
        lines.push(`          actual:   ${show(m.actual)}`);
      }
    }
  }
  const total = report.passed + report.failed;
  const invalid = report.invalidFiles > 0 ? `; ${report.invalidFiles} file${report.invalidFiles === 1 ? '' : 's'} could not run` : '';
  lines.push(report.ok ? `rules test: all ${report.passed} cases passed` : `rules test: ${report.failed} of ${total} cases failed${invalid}`);
  return lines.join('\n');
}

function show(value: unknown): string {
  if (value === null) {
    return 'no reply';
  }
  if (Array.isArray(value)) {
    return `[${value.join(', ')}]`;
  }
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
