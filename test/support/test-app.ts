import type Koa from 'koa';
import type { ConversationStore } from '../../src/conversations/conversation-store.js';
import type { ToStaff } from '../../src/domain.js';
import { noting } from './conversations.js';
import { loadTestConfig, type Config } from '../../src/config/load-config.js';
import type { Appointment, Patient } from '../../src/domain.js';
import { WEBHOOK_PATH, type SpoolSink } from '../../src/http/create-app.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { buildService, type BuiltService } from '../../src/process/build-service.js';
import type { MediaStore } from '../../src/media/media-store.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import type { LiveConfig } from '../../src/service/live-config.js';
import { StaffDirectory } from '../../src/staff/auth/staff-file.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { formEncode, inboundParams, sign } from './twilio-sign.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';
import { backendFor } from './backends.js';
import type { Backend } from '../../src/store/backend.js';

export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const NORTHSIDE_TOKEN = 'northside-token-fedcba9876543210';
export const PUBLIC_BASE_URL = 'https://sms.example-clinic.test';
export const WEBHOOK_URL = `${PUBLIC_BASE_URL}${WEBHOOK_PATH}`;

export interface TestApp {
  app: Koa;
  /** The whole service as buildService made it (its key ring, access trail, media parts). */
  service: BuiltService;
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
  /** Stops the service's parts (runner, timers); a store the suite handed in stays open: the suite closes it. */
  close(): Promise<void>;
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
  /** The media store behind the media route (default: the backend's, under config.mediaDir). */
  mediaStore?: MediaStore;
}

/**
 * The backend of a store the suite owns, whose close() the service leaves alone: stopping
 * the service stops its parts, and the suite closes the store (and drops its database) itself.
 * @param store - the suite's store
 */
export function suiteOwnedBackend(store: Store): Backend {
  const backend = backendFor(store);
  const kept = new Proxy(backend.store, {
    get(target, name) {
      if (name === 'close') {
        return async (): Promise<void> => undefined;
      }
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { ...backend, store: kept } as Backend;
}

/**
 * buildTestApp for one suite: every app it builds is closed after the suite's tests (call it
 * at the top of a describe body, so its after hook runs before the suite's own, which close
 * the store). `const buildTestApp = closingTestApps();` keeps a suite's calls as they were.
 */
export function closingTestApps(): (options?: TestAppOptions) => Promise<TestApp> {
  const built: TestApp[] = [];
  after(async () => {
    await Promise.all(built.splice(0).map((t) => t.close()));
  });
  return async (options) => {
    const t = await buildTestApp(options);
    built.push(t);
    return t;
  };
}

/**
 * A real app (real rules, real store adapter) on the fixture clinics, logging into a capture:
 * the service as buildService makes it (not listening, no background jobs).
 */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const env = { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN, ...options.env };
  const config = loadTestConfig({
    authTokens: [AUTH_TOKEN],
    publicBaseUrl: PUBLIC_BASE_URL,
    clinicsFile: 'test/fixtures/clinics.yaml',
    rulesDir: FIXTURE_RULES_DIR,
    logLevel: 'info',
    ...options.config,
  });
  const logs = createLogCapture();
  const routed: ToStaff[] = [];
  const service = await buildService(
    { config, snapshot: await buildSnapshot(config, env), keys: { keys: [], missing: false }, staffFile: { directory: new StaffDirectory([]), missing: false }, env },
    {
      backend: options.store ? suiteOwnedBackend(options.store) : backendFor(new MemoryStore()),
      logDestination: logs,
      metrics: createMetrics(),
      background: false,
      listen: false,
      spool: options.spool ?? null,
      ...(options.readySpool ? { readySpool: options.readySpool } : {}),
      routing: (inner) => noting(inner, routed),
      ...(options.mediaStore ? { media: { store: options.mediaStore } } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.pipelineDeadlineMs === undefined ? {} : { pipelineDeadlineMs: options.pipelineDeadlineMs }),
    },
  );
  await service.store.init();
  await service.staffStores.conversations.init();
  await service.runner.start();
  const { app, live, metrics } = service;
  const store = options.store ?? service.store;
  return { app, service, store, conversations: service.staffStores.conversations, routed, live, metrics, logs, config, env, close: async () => void (await service.stop()) };
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
