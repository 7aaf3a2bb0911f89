/**
 * The bench's world on disk: a clinics file, a rules folder (the real rules/default.yaml
 * plus generated clinic files) and a seed file of patients with appointments, in a temp
 * folder. Bench clinics have no business hours (always open, so the time of day does not
 * change the mix) and a high rate limit (the bench measures the processed path, not the
 * rate limiter).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Appointment, Patient } from '../../src/domain.js';
import { createRequestMix, WEBHOOK_PATH, type RequestMix } from './request-mix.js';

export const BENCH_TOKEN = 'bench-auth-token-0123456789abcdef';
export const BENCH_BASE_URL = 'https://sms.bench.test';
export const BENCH_ACCOUNT_SID = `AC${'fedcba9876543210'.repeat(2)}`;

export interface WorldOptions {
  clinics: number;
  patientsPerClinic: number;
  /**
   * Rules per clinic in total, default rules included (rules/default.yaml has 10). When
   * set, each clinic file adds generated keyword rules up to this count; when not, each
   * clinic file is like rules/clinics/downtown.yaml (an HOURS keyword and its rule).
   */
  rulesPerClinic?: number;
  /** Where the real rules/default.yaml is. */
  sourceRulesDir?: string;
  rateLimitPerMinute?: number;
  /** Share of patients who share their phone with the previous one (families). */
  familyShare?: number;
}

export interface World {
  dir: string;
  clinicsFile: string;
  rulesDir: string;
  seedFile: string;
  clinics: Array<{ id: string; number: string }>;
  patients: Patient[];
  appointments: Appointment[];
  /** Keywords the generated rules answer. */
  extraKeywords: string[];
  /** Rules per clinic, default ones included. */
  rulesPerClinic: number;
  remove(): Promise<void>;
}

export const clinicNumber = (i: number): string => `+1646555${String(i).padStart(4, '0')}`;
export const patientPhone = (i: number): string => `+1312${String(2_000_000 + i).padStart(7, '0')}`;

const DOWNTOWN_LIKE = `version: 1
keywords:
  HOURS:
    en: [HOURS, OPEN]
    es: [HORARIO, HORAS]
rules:
  - name: office-hours
    priority: 50
    halt: true
    conditions:
      all:
        - { fact: message.command, operator: equal, value: HOURS }
        - { fact: patients.known, operator: equal, value: true }
    event:
      type: reply-only
      params:
        reply: office-hours
templates:
  office-hours:
    en: "{{clinic.name}} is open Mon-Thu 8 AM-5 PM and Fri 8 AM-3 PM. Call {{clinic.officePhone}}."
    es: "{{clinic.name}} abre de lunes a jueves de 8 a 17 h y el viernes de 8 a 15 h. Llame al {{clinic.officePhone}}."
`;

/** A clinic file with `count` generated keyword rules (each its own keyword, reply and template). */
export function generatedRulesFile(count: number): string {
  if (count === 0) {
    return 'version: 1\n';
  }
  const lines = ['version: 1', 'keywords:'];
  for (let i = 1; i <= count; i++) {
    lines.push(`  KW${i}:`, `    en: [KWORD${i}, KW${i}X]`);
  }
  lines.push('rules:');
  for (let i = 1; i <= count; i++) {
    lines.push(
      `  - name: custom-${i}`,
      `    priority: ${20 + (i % 30)}`,
      '    halt: true',
      '    conditions:',
      '      all:',
      `        - { fact: message.command, operator: equal, value: KW${i} }`,
      '        - { fact: patients.known, operator: equal, value: true }',
      '    event:',
      '      type: reply-only',
      '      params:',
      `        reply: custom-${i}`,
    );
  }
  lines.push('templates:');
  for (let i = 1; i <= count; i++) {
    lines.push(`  custom-${i}: "{{clinic.name}}: answer number ${i} for {{patient.firstName}}."`);
  }
  return `${lines.join('\n')}\n`;
}

const DEFAULT_RULES = 10;

/**
 * Writes the world into a new temp folder.
 * @param options - how many clinics, patients and rules
 */
export async function createWorld(options: WorldOptions): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'clinic-sms-bench-'));
  const rulesDir = join(dir, 'rules');
  await mkdir(join(rulesDir, 'clinics'), { recursive: true });
  const defaults = await readFile(join(options.sourceRulesDir ?? 'rules', 'default.yaml'), 'utf8');
  await writeFile(join(rulesDir, 'default.yaml'), defaults);

  const extra = options.rulesPerClinic === undefined ? 0 : Math.max(0, options.rulesPerClinic - DEFAULT_RULES);
  const clinicRules = options.rulesPerClinic === undefined ? DOWNTOWN_LIKE : generatedRulesFile(extra);
  const clinics: World['clinics'] = [];
  const clinicYaml = ['clinics:'];
  for (let c = 0; c < options.clinics; c++) {
    const id = `clinic-${String(c).padStart(4, '0')}`;
    const number = clinicNumber(c);
    clinics.push({ id, number });
    clinicYaml.push(
      `  - id: ${id}`,
      `    name: Bench Clinic ${c}`,
      `    phoneNumbers: ["${number}"]`,
      `    officePhone: "(312) 555-${String(c % 10000).padStart(4, '0')}"`,
      `    timezone: ${c % 2 === 0 ? 'America/Chicago' : 'America/New_York'}`,
      '    languages: [en, es]',
      `    rateLimitPerMinute: ${options.rateLimitPerMinute ?? 100_000}`,
    );
    await writeFile(join(rulesDir, 'clinics', `${id}.yaml`), clinicRules);
  }
  const clinicsFile = join(dir, 'clinics.yaml');
  await writeFile(clinicsFile, `${clinicYaml.join('\n')}\n`);

  const { patients, appointments } = makePeople(clinics, options.patientsPerClinic, options.familyShare ?? 0.1);
  const seedFile = join(dir, 'seed.json');
  await writeFile(seedFile, JSON.stringify({ patients, appointments }));
  const extraKeywords = Array.from({ length: extra }, (_, i) => `KWORD${i + 1}`);
  return {
    dir,
    clinicsFile,
    rulesDir,
    seedFile,
    clinics,
    patients,
    appointments,
    extraKeywords,
    rulesPerClinic: DEFAULT_RULES + (options.rulesPerClinic === undefined ? 1 : extra),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Patients (some families sharing a phone) and one upcoming appointment each.
 * @param clinics - the clinics, patients spread evenly
 * @param perClinic - patients per clinic
 * @param familyShare - share of patients on the previous patient's phone
 */
function makePeople(clinics: ReadonlyArray<{ id: string }>, perClinic: number, familyShare: number): { patients: Patient[]; appointments: Appointment[] } {
  const patients: Patient[] = [];
  const appointments: Appointment[] = [];
  const base = Date.now() + 30 * 86_400_000;
  let phoneIndex = 0;
  for (const clinic of clinics) {
    for (let i = 0; i < perClinic; i++) {
      const shares = i > 0 && (i * 7919) % 100 < familyShare * 100;
      if (!shares) {
        phoneIndex += 1;
      }
      const id = `p-${clinic.id}-${i}`;
      patients.push({ id, clinicId: clinic.id, firstName: `Pat${i}`, lastName: 'Bench', phone: patientPhone(phoneIndex), ...(i % 5 === 0 ? { language: 'es' } : {}) });
      appointments.push({
        id: `a-${clinic.id}-${i}`,
        clinicId: clinic.id,
        patientId: id,
        startsAt: new Date(base + i * 900_000),
        provider: 'Dr. Bench',
        status: 'scheduled',
      });
    }
  }
  return { patients, appointments };
}

/** The known senders of a world, for the request mix. */
function knownSenders(world: Pick<World, 'clinics' | 'patients'>): Array<{ to: string; phone: string }> {
  const numbers = new Map(world.clinics.map((c) => [c.id, c.number]));
  const seen = new Set<string>();
  const out: Array<{ to: string; phone: string }> = [];
  for (const p of world.patients) {
    const key = `${p.clinicId}|${p.phone}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ to: numbers.get(p.clinicId) as string, phone: p.phone });
    }
  }
  return out;
}

/** A seeded request mix for a world's clinics and patients. */
export function mixFor(world: Pick<World, 'clinics' | 'patients' | 'extraKeywords'>, seed: number): RequestMix {
  const target = { url: `${BENCH_BASE_URL}${WEBHOOK_PATH}`, authToken: BENCH_TOKEN, accountSid: BENCH_ACCOUNT_SID };
  return createRequestMix({ ...target, clinicNumbers: world.clinics.map((c) => c.number), patients: knownSenders(world), extraKeywords: world.extraKeywords }, { seed });
}

/** What the peers need: the token and the public URL the requests are signed for. */
export const peerEnv = (): Record<string, string> => ({ TWILIO_AUTH_TOKEN: BENCH_TOKEN, PUBLIC_BASE_URL: BENCH_BASE_URL });

/** The full service's environment for a world: embedded store seeded with the world's people, no file watcher. */
export function serviceEnv(world: Pick<World, 'dir' | 'clinicsFile' | 'rulesDir' | 'seedFile'>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...peerEnv(),
    CLINICS_FILE: world.clinicsFile,
    RULES_DIR: world.rulesDir,
    SEED_FILE: world.seedFile,
    SPOOL_DIR: join(world.dir, `spool-${process.hrtime.bigint().toString(36)}`),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    WATCH_RULES: 'off',
    ...extra,
  };
}
