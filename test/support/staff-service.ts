import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { MongoClient } from 'mongodb';
import { startService, type RunningService } from '../../src/main.js';
import { fixtureServiceEnv } from './service-env.js';
import { FIXTURE_STAFF_FILE } from './staff-auth-app.js';
import { freshDbName, getTestMongo, uriWithDb } from './mongo.js';

export interface RunningStaffService {
  service: RunningService;
  /** http://127.0.0.1:<port>: what the browser opens. */
  baseUrl: string;
  stop(): Promise<void>;
}

/** Where a whole service keeps its data: the embedded store, or MongoDB over the wire (MONGODB_URI). */
export interface ServiceStoreKind {
  name: string;
  /** The environment that chooses it and how to clean up after; null when not available here. */
  make(): Promise<{ env: Record<string, string>; dispose(): Promise<void> } | null>;
}

export const SERVICE_STORE_KINDS: ServiceStoreKind[] = [
  { name: 'embedded store', make: async () => ({ env: {}, dispose: async () => undefined }) },
  {
    name: 'MongoDB over the wire',
    make: async () => {
      const server = await getTestMongo();
      if (!server) {
        return null;
      }
      const dbName = freshDbName('browser');
      return {
        env: { MONGODB_URI: uriWithDb(server.uri, dbName) },
        async dispose() {
          const client = new MongoClient(server.uri);
          try {
            await client.db(dbName).dropDatabase();
          } finally {
            await client.close();
          }
        },
      };
    },
  },
];

/**
 * The whole service on loopback (port 0) as a browser reaches it: fixture clinics and rules,
 * the fixture staff file, no PUBLIC_BASE_URL (the browser's own origin is the public one).
 * @param kind - a ServiceStoreKind's made value (null: skip is the caller's business)
 * @param env - what the test adds (STAFF_OIDC_*, TWILIO_API_BASE_URL, ...)
 */
export async function startStaffService(
  kind: { env: Record<string, string>; dispose(): Promise<void> },
  env: Record<string, string> = {},
  options: { staffClock?: () => Date } = {},
): Promise<RunningStaffService> {
  const spool = await mkdtemp(join(tmpdir(), 'staff-service-'));
  const service = await startService(fixtureServiceEnv({ SPOOL_DIR: spool, MEDIA_DIR: join(spool, 'media'), STAFF_FILE: FIXTURE_STAFF_FILE, PUBLIC_BASE_URL: '', ...kind.env, ...env }), options);
  const { port } = service.server.address() as AddressInfo;
  return {
    service,
    baseUrl: `http://127.0.0.1:${port}`,
    async stop() {
      try {
        await service.stop();
      } finally {
        await kind.dispose();
        await rm(spool, { recursive: true, force: true });
      }
    },
  };
}

/** Real time plus an offset a test moves forward (the sessions' idle and absolute limits). */
export function offsetClock(): { now: () => Date; advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => void (offset += ms) };
}
