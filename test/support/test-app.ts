import type Koa from 'koa';
import type { ConversationStore } from '../../src/conversations/conversation-store.js';
import { openStaffStores } from '../../src/conversations/staff-api.js';
import type { ToStaff } from '../../src/domain.js';
import { notingRouting } from './conversations.js';
import { loadTestConfig, type Config } from '../../src/config/load-config.js';
import type { Appointment, Patient } from '../../src/domain.js';
import { createApp, WEBHOOK_PATH, type SpoolSink } from '../../src/http/create-app.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { LiveConfig } from '../../src/service/live-config.js';
import { createReadiness } from '../../src/process/readiness.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { formEncode, inboundParams, sign } from './twilio-sign.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';
import { backendFor } from './backends.js';

export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const NORTHSIDE_TOKEN = 'northside-token-fedcba9876543210';
export const PUBLIC_BASE_URL = 'https://sms.example-clinic.test';
export const WEBHOOK_URL = `${PUBLIC_BASE_URL}${WEBHOOK_PATH}`;

export interface TestApp {
  app: Koa;
  store: Store;
  /** The staff conversations the pipeline routes messages to. */
  conversations: ConversationStore;
  /** Every message the pipeline routed to them, in order. */
  routed: ToStaff[];
  live: LiveConfig;
  metrics: Metrics;
  logs: LogCapture;
  config: Readonly<Config>;
  env: Record<string, string>;
}

export interface TestAppOptions {
  config?: Partial<Config>;
  env?: Record<string, string>;
  store?: Store;
  clock?: () => Date;
  spool?: SpoolSink;
  /** The outage spool /readyz looks at (its depth, whether it is writable); absent: no spool. */
  readySpool?: { depth(): number; writable(): Promise<boolean> };
  /** The webhook's answer deadline, ms (default PIPELINE_DEADLINE_MS). */
  pipelineDeadlineMs?: number;
}

/** A real app (real rules, real store adapter) on the fixture clinics, logging into a capture. */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const env = { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN, ...options.env };
  const config = loadTestConfig({
    authTokens: [AUTH_TOKEN],
    publicBaseUrl: PUBLIC_BASE_URL,
    clinicsFile: 'test/fixtures/clinics.yaml',
    rulesDir: FIXTURE_RULES_DIR,
    ...options.config,
  });
  const logs = createLogCapture();
  const logger = createLogger('info', logs);
  const metrics = createMetrics();
  const live = new LiveConfig(await buildSnapshot(config, env));
  const store = options.store ?? new MemoryStore();
  await store.init();
  const { conversations } = await openStaffStores(backendFor(store));
  await conversations.init();
  const routing = notingRouting(conversations);
  const app = createApp({
    config,
    live,
    store,
    staff: routing.staff,
    logger,
    metrics,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.spool ? { spool: options.spool } : {}),
    ...(options.pipelineDeadlineMs === undefined ? {} : { pipelineDeadlineMs: options.pipelineDeadlineMs }),
    readiness: createReadiness({ store, live, metrics, ...(options.readySpool ? { spool: options.readySpool } : {}) }),
  });
  return { app, store, conversations, routed: routing.items, live, metrics, logs, config, env };
}

/** A signed webhook request body and headers, as Twilio would send them. */
export function signedRequest(
  params: Record<string, string | string[]>,
  options: { token?: string; url?: string } = {},
): { body: string; signature: string } {
  return { body: formEncode(params), signature: sign(options.token ?? AUTH_TOKEN, options.url ?? WEBHOOK_URL, params) };
}

export { inboundParams, WEBHOOK_PATH };

let counter = 0;
/** A unique fictional E.164 number per call, so tests never share senders. */
export function uniquePhone(): string {
  counter += 1;
  return `+1312555${String(1000 + ((process.pid * 7 + counter) % 9000)).padStart(4, '0')}`;
}

/** Adds a patient (and optional appointments) with fresh ids. */
export async function addPatient(
  store: Store,
  patient: Partial<Patient> & { phone: string },
  appointments: Array<Partial<Appointment> & { startsAt: Date }> = [],
): Promise<Patient> {
  counter += 1;
  const full: Patient = { id: `p-${process.pid}-${counter}`, clinicId: 'downtown', firstName: 'Test', lastName: 'Patient', ...patient };
  await store.upsertPatients([full]);
  await store.upsertAppointments(
    appointments.map((a, i) => ({ id: `a-${full.id}-${i}`, clinicId: full.clinicId, patientId: full.id, status: 'scheduled' as const, ...a })),
  );
  return full;
}
