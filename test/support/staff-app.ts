import type Koa from 'koa';
import { createApiKey, type ApiKey, type Scope } from '../../src/auth/api-key.js';
import type { KeyRing } from '../../src/auth/key-ring.js';
import type { MediaStore } from '../../src/media/media-store.js';
import type { FailedKeyAttempts } from '../../src/auth/require-api-key.js';
import { loadTestConfig, type Config } from '../../src/config/load-config.js';
import type { StaffStores } from '../../src/conversations/staff-api.js';
import type { ConversationService } from '../../src/conversations/conversation-service.js';
import type { SmsSender } from '../../src/conversations/twilio-messages.js';
import type { Middleware } from 'koa';
import type { LiveHub } from '../../src/staff/live/live-hub.js';
import type { StaffPagesOptions } from '../../src/staff/start-staff-pages.js';
import { createMetrics } from '../../src/metrics.js';
import { buildService } from '../../src/process/build-service.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { StaffDirectory, type StaffEntry } from '../../src/staff/auth/staff-file.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { getTestMongo, openTestMongoStore } from './mongo.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, PUBLIC_BASE_URL, suiteOwnedBackend, uniquePhone } from './test-app.js';
import { newId } from '../../src/conversations/conversation-service.js';
import { aMessage } from '../contract/store-fixtures.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';

/** The account downtown sends from in these tests (TWILIO_ACCOUNT_SID). */
export const DOWNTOWN_ACCOUNT_SID = `AC${'d'.repeat(32)}`;

export interface StaffTestApp {
  app: Koa;
  store: Store;
  stores: StaffStores;
  service: ConversationService;
  ring: KeyRing;
  logs: LogCapture;
  config: Readonly<Config>;
  /** A key of `clinicId` with `scopes`, added to the ring. */
  key(clinicId: string, scopes: Scope[]): string;
  keys: ApiKey[];
  /** The media store the staff API and pages serve files from. */
  media: MediaStore;
  /** The staff pages' live hub (with `pages`; started, stopped by dispose). */
  hub?: LiveHub;
  dispose(): Promise<void>;
}

/**
 * The staff pages (/staff) mounted too: behind the real sign-in and sessions (the staff file
 * is `staff`; sign in with test/support/staff-session.ts signInAs), or behind a session
 * middleware of the test's own.
 */
export interface StaffPagesTestOptions extends Pick<StaffPagesOptions, 'staffOf' | 'quickReplies' | 'pollMs'> {
  requirePerson?: Middleware;
}

export interface StaffStoreKind {
  name: string;
  /** A fresh main store and its database name; null when this kind is not available. */
  make(): Promise<{ store: Store; dbName: string; dispose(): Promise<void> } | null>;
}

/** The embedded store always; MongoDB when a server is found. */
export const STAFF_STORE_KINDS: StaffStoreKind[] = [
  { name: 'memory store', make: async () => ({ store: new MemoryStore(), dbName: 'unused', dispose: async () => undefined }) },
  {
    name: 'MongoDB store',
    make: async () => {
      const server = await getTestMongo();
      if (!server) {
        return null;
      }
      const handle = await openTestMongoStore(server, { label: 'staff' });
      return { store: handle.store, dbName: handle.dbName, dispose: () => handle.dispose() };
    },
  },
];

let keySeq = 0;

/**
 * The real app with the staff API mounted, on the fixture clinics, logging into a capture.
 * @param made - the main store from a StaffStoreKind
 * @param config - overrides (e.g. twilioApiBaseUrl of a fake Twilio)
 * @param options - clock: the webhook's clock (when messages arrive); attempts: the failed-key limit (none unless given); sender: the SMS sender (default: the twilio client at twilioApiBaseUrl); staffClock: the staff API's clock
 */
export async function buildStaffApp(
  made: { store: Store; dbName: string; dispose(): Promise<void> },
  config: Partial<Config> = {},
  options: { clock?: () => Date; attempts?: FailedKeyAttempts; sender?: SmsSender; staffClock?: () => Date; pages?: StaffPagesTestOptions; staff?: StaffEntry[] } = {},
): Promise<StaffTestApp> {
  const env = { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN };
  const full = loadTestConfig({
    authTokens: [AUTH_TOKEN],
    publicBaseUrl: PUBLIC_BASE_URL,
    clinicsFile: 'test/fixtures/clinics.yaml',
    rulesDir: FIXTURE_RULES_DIR,
    twilioAccountSid: DOWNTOWN_ACCOUNT_SID,
    logLevel: 'debug',
    ...config,
  });
  const logs = createLogCapture();
  const service = await buildService(
    { config: full, snapshot: await buildSnapshot(full, env), keys: { keys: [], missing: false }, staffFile: { directory: new StaffDirectory(options.staff ?? []), missing: false }, env },
    {
      backend: suiteOwnedBackend(made.store),
      logDestination: logs,
      metrics: createMetrics(),
      background: false,
      listen: false,
      spool: null,
      attempts: options.attempts ?? null,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sender ? { sender: options.sender } : {}),
      ...(options.staffClock ? { apiClock: options.staffClock } : {}),
      ...(options.pages ? { pages: options.pages } : {}),
    },
  );
  const { app, ring, staffStores: stores } = service;
  const store = made.store;
  await store.init();
  await stores.conversations.init();
  await stores.accessLog.init();
  await service.runner.start();
  const keys: ApiKey[] = [];
  const staff = { service: service.conversations };
  return {
    app,
    store,
    stores,
    service: staff.service,
    media: service.media.store,
    ring,
    logs,
    config: full,
    keys,
    key(clinicId, scopes) {
      keySeq += 1;
      const { key, entry } = createApiKey({ id: `k-${process.pid}-${keySeq}`, clinicId, name: 'front desk', scopes }, new Date());
      keys.push(entry);
      ring.swap(keys);
      return key;
    },
    ...(options.pages ? { hub: service.pages.hub } : {}),
    // The service's parts first (the store is the suite's: made.dispose closes it, dropping its database).
    dispose: async () => {
      await service.stop();
      await made.dispose();
    },
  };
}

/**
 * A downtown conversation opened by a message from a new phone (its audit record and the
 * routed entry, as the pipeline leaves them), for suites about what staff do next.
 * @param t - the staff app
 * @param clinicNumber - the downtown number it was sent to
 */
export async function aRoutedConversation(t: Pick<StaffTestApp, 'store' | 'stores'>, clinicNumber = '+13125550100'): Promise<{ id: string; phone: string }> {
  const phone = uniquePhone();
  const record = aMessage({ clinicId: 'downtown', receivedAt: new Date(), status: 'processed' });
  record.message.from = phone;
  record.message.to = clinicNumber;
  await t.store.claimMessage(record);
  const id = newId('cv');
  await t.stores.conversations.recordRouted({ clinicId: 'downtown', phone, clinicNumber, messageSid: record.messageSid, at: new Date(), body: 'hi', patients: [] }, id);
  return { id, phone };
}
