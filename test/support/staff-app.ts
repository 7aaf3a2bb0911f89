import type Koa from 'koa';
import { createApiKey, type ApiKey, type Scope } from '../../src/auth/api-key.js';
import { KeyRing } from '../../src/auth/key-ring.js';
import type { FailedKeyAttempts } from '../../src/auth/require-api-key.js';
import { loadTestConfig, type Config } from '../../src/config/load-config.js';
import { createStaffApi, openStaffStores, type StaffStores } from '../../src/conversations/staff-api.js';
import type { ConversationService } from '../../src/conversations/conversation-service.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';
import { createApp } from '../../src/http/create-app.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { LiveConfig } from '../../src/service/live-config.js';
import { createReadiness } from '../../src/process/readiness.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { getTestMongo, openTestMongoStore } from './mongo.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, PUBLIC_BASE_URL } from './test-app.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';
import { backendFor } from './backends.js';

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
  dispose(): Promise<void>;
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
 * @param options - clock: the webhook's clock (when messages arrive); attempts: the failed-key limit (none unless given)
 */
export async function buildStaffApp(
  made: { store: Store; dbName: string; dispose(): Promise<void> },
  config: Partial<Config> = {},
  options: { clock?: () => Date; attempts?: FailedKeyAttempts } = {},
): Promise<StaffTestApp> {
  const env = { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN };
  const full = loadTestConfig({
    authTokens: [AUTH_TOKEN],
    publicBaseUrl: PUBLIC_BASE_URL,
    clinicsFile: 'test/fixtures/clinics.yaml',
    rulesDir: FIXTURE_RULES_DIR,
    twilioAccountSid: DOWNTOWN_ACCOUNT_SID,
    ...config,
  });
  const logs = createLogCapture();
  const logger = createLogger('debug', logs);
  const metrics = createMetrics();
  const live = new LiveConfig(await buildSnapshot(full, env));
  const store = made.store;
  await store.init();
  const stores = await openStaffStores(backendFor(store));
  await stores.conversations.init();
  await stores.accessLog.init();
  const ring = new KeyRing();
  const keys: ApiKey[] = [];
  const staff = createStaffApi({ config: full, live, store, stores, ring, logger, ...(options.attempts ? { attempts: options.attempts } : {}) });
  const app = createApp({ config: full, live, store, staff: conversationRouting(stores.conversations), logger, metrics, ...(options.clock ? { clock: options.clock } : {}), readiness: createReadiness({ store, live, metrics }), routers: [staff.router] });
  return {
    app,
    store,
    stores,
    service: staff.service,
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
    dispose: () => made.dispose(),
  };
}
