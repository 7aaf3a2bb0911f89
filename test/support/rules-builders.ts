/**
 * Builders for rules and actions tests: a clinic, a message, a store with patients
 * and appointments, and compiled rules from YAML text or the fixture copy of the shipped rules.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryConversationStore } from '../../src/conversations/memory-conversation-store.js';
import { givenAppointmentStatus } from '../../src/admin/test-runner/run-tests.js';
import type { Appointment, AppointmentStatus, Clinic, InboundMessage, Patient, StaffRouting, ToStaff } from '../../src/domain.js';
import { notingRouting } from './conversations.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { compileClinicRules, parseRulesFile, loadClinicRules, type CompiledRules } from '../../src/rules/load-rules.js';
import { decide, type Decision, type EvaluationInput } from '../../src/rules/evaluate.js';
import { applyDecision, type Outcome } from '../../src/service/apply-decision.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';

export const RULES_DIR = resolve(FIXTURE_RULES_DIR);
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/rules', import.meta.url));

/** Tuesday 2026-11-10 10:00 in Chicago (16:00Z): inside business hours. */
export const OPEN_NOW = new Date('2026-11-10T16:00:00Z');
/** Tuesday 2026-11-10 21:00 in Chicago (03:00Z next day): after hours. */
export const CLOSED_NOW = new Date('2026-11-11T03:00:00Z');

let counter = 0;
/** A unique suffix, so every test makes its own data. */
export function uid(): string {
  counter += 1;
  return `${Date.now().toString(36)}${counter}`;
}

export function makeClinic(overrides: Partial<Clinic> = {}): Clinic {
  return {
    id: 'downtown',
    name: 'Downtown Family Clinic',
    phoneNumbers: ['+13125550100'],
    officePhone: '(312) 555-0199',
    timezone: 'America/Chicago',
    languages: ['en', 'es'],
    businessHours: {
      mon: [{ open: '08:00', close: '17:00' }],
      tue: [{ open: '08:00', close: '17:00' }],
      wed: [{ open: '08:00', close: '17:00' }],
      thu: [{ open: '08:00', close: '17:00' }],
      fri: [{ open: '08:00', close: '15:00' }],
    },
    defaultRegion: 'US',
    rateLimitPerMinute: 10,
    autoReply: true,
    ...overrides,
  };
}

export function makeMessage(body: string, overrides: Partial<InboundMessage> = {}): InboundMessage {
  return {
    messageSid: `SM${uid()}`,
    from: '+13125550134',
    to: '+13125550100',
    body,
    numMedia: overrides.media?.length ?? 0,
    media: [],
    extra: {},
    ...overrides,
  };
}

export interface World {
  store: MemoryStore;
  /** The staff conversations, reading the store's audit records. */
  conversations: MemoryConversationStore;
  /** The port to staff the actions get: the conversations, noting each message in `routed`. */
  staff: StaffRouting;
  routed: ToStaff[];
  clinic: Clinic;
  patients: Patient[];
  phone: string;
}

/**
 * A memory store holding patients sharing `phone` and their appointments.
 * @param people - first name, optional language, and the patient's appointments
 */
export async function makeWorld(
  people: Array<{ firstName: string; language?: string; appointments?: Array<Omit<Partial<Appointment>, 'status'> & { startsAt: Date; status?: AppointmentStatus }> }>,
  opts: { clinic?: Clinic; phone?: string; store?: MemoryStore } = {},
): Promise<World> {
  const store = opts.store ?? new MemoryStore();
  const clinic = opts.clinic ?? makeClinic();
  const phone = opts.phone ?? `+1312555${String(1000 + (counter % 9000)).padStart(4, '0')}`;
  const patients: Patient[] = people.map((p) => {
    const patient: Patient = { id: `p-${uid()}`, clinicId: clinic.id, firstName: p.firstName, lastName: 'Test', phone };
    if (p.language) {
      patient.language = p.language;
    }
    return patient;
  });
  await store.upsertPatients(patients);
  const appointments: Appointment[] = people.flatMap((p, i) =>
    (p.appointments ?? []).map(({ status, ...a }) => ({
      id: `a-${uid()}`,
      clinicId: clinic.id,
      patientId: (patients[i] as Patient).id,
      ...a,
      // A given status a patient gives is their response (as the rules test runner seeds it),
      // from a message a day before OPEN_NOW: older than the messages tests send, so not stale.
      ...givenAppointmentStatus(status ?? 'scheduled', OPEN_NOW),
    })),
  );
  store.putAppointments(appointments);
  const conversations = new MemoryConversationStore(store);
  const { staff, items } = notingRouting(conversations);
  return { store, conversations, staff, routed: items, clinic, patients, phone };
}

/** Compiles rules from YAML text (default file, optional clinic file) for tests. */
export function compileFromText(defaultYaml: string, clinicYaml: string | null, clinic: Clinic = makeClinic()): CompiledRules {
  const defaults = parseRulesFile(defaultYaml, 'rules/default.yaml', 'default');
  const clinicFile = clinicYaml === null ? null : parseRulesFile(clinicYaml, `rules/clinics/${clinic.id}.yaml`, 'clinic');
  const result = compileClinicRules(defaults, clinicFile, clinic);
  if (!result.rules) {
    throw new Error(`fixture rules do not compile:\n${result.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`).join('\n')}`);
  }
  return result.rules;
}

/** The shipped rules' fixture copy (or `rulesDir`) compiled for `clinic`. */
export function realRules(clinic: Clinic = makeClinic(), rulesDir: string = RULES_DIR): Promise<CompiledRules> {
  return loadClinicRules({ rulesDir, clinic });
}

/** Runs one message through decide() and applyDecision() and returns all of it. */
export async function send(
  rules: CompiledRules,
  world: World,
  body: string,
  opts: { now?: Date; message?: Partial<InboundMessage>; dryRun?: boolean; unknown?: boolean } = {},
): Promise<{ decision: Decision; outcome: Outcome; input: EvaluationInput }> {
  const message = makeMessage(body, { from: world.phone, to: world.clinic.phoneNumbers[0] ?? '', ...opts.message });
  const patients = opts.unknown ? [] : await world.store.findPatientsByPhone(world.clinic.id, message.from);
  const optedOut = (await world.store.getOptOut(world.clinic.id, message.from))?.optedOut ?? false;
  const sender = await world.store.peekSender(world.clinic.id, message.from);
  const input: EvaluationInput = { clinic: world.clinic, message, patients, optedOut, now: opts.now ?? OPEN_NOW, store: world.store, sender };
  const decision = await decide(rules, input);
  const outcome = await applyDecision(rules, decision, input, { dryRun: opts.dryRun === true, staff: world.staff });
  return { decision, outcome, input };
}

/**
 * The real memory store with the latency of a real database on the appointment
 * look-up, so that overlapping messages interleave the way they do in production.
 */
export class SlowStore extends MemoryStore {
  lookups = 0;
  constructor(private readonly delayMs: (call: number) => number) {
    super();
  }

  override async findNextAppointment(...args: Parameters<MemoryStore['findNextAppointment']>): ReturnType<MemoryStore['findNextAppointment']> {
    this.lookups += 1;
    const call = this.lookups;
    await new Promise((resolve) => setTimeout(resolve, this.delayMs(call)));
    return super.findNextAppointment(...args);
  }
}
