import Router from '@koa/router';
import type Koa from 'koa';
import { MemoryAccessLog, type AccessLogStore, type AccessRecord } from '../../src/auth/access-log.js';
import { loadTestConfig, type Config } from '../../src/config/load-config.js';
import { createApp } from '../../src/http/create-app.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { LiveConfig } from '../../src/service/live-config.js';
import { createReadiness } from '../../src/process/readiness.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { personOf } from '../../src/staff/auth/require-person.js';
import type { StaffSessionStore } from '../../src/staff/auth/session-store.js';
import { createStaffAuth, type StaffAuth } from '../../src/staff/auth/staff-auth.js';
import { loadStaffFile } from '../../src/staff/auth/staff-file.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN } from './test-app.js';

export const FIXTURE_STAFF_FILE = 'test/fixtures/staff/staff.yaml';

/** A clock a test moves by hand. */
export interface TestClock {
  now: () => Date;
  advance(ms: number): void;
}

export function testClock(start = new Date('2026-06-01T12:00:00Z')): TestClock {
  let t = start.getTime();
  return { now: () => new Date(t), advance: (ms) => void (t += ms) };
}

export interface StaffAuthTestApp {
  app: Koa;
  auth: StaffAuth;
  accessLog: AccessLogStore;
  records(): Promise<(AccessRecord & { who?: unknown })[]>;
  logs: LogCapture;
  clock: TestClock;
}

/**
 * The real app with the staff sign-in routes mounted, and one page behind requirePerson
 * (`GET /staff/whoami`, answering the person) and one stream-like route behind the quiet
 * check (`GET /staff/quiet`), until the staff pages stand in for them.
 */
export async function buildStaffAuthApp(options: { sessionStore: StaffSessionStore; config?: Partial<Config>; accessLog?: AccessLogStore }): Promise<StaffAuthTestApp> {
  const config = loadTestConfig({ authTokens: [AUTH_TOKEN], clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: FIXTURE_RULES_DIR, staffFile: FIXTURE_STAFF_FILE, ...options.config });
  const logs = createLogCapture();
  const logger = createLogger('debug', logs);
  const metrics = createMetrics();
  const live = new LiveConfig(await buildSnapshot(config, { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN }));
  const store = new MemoryStore();
  const clock = testClock();
  const accessLog = options.accessLog ?? new MemoryAccessLog();
  await options.sessionStore.init();
  const { directory } = await loadStaffFile(config.staffFile);
  const auth = createStaffAuth({ config, directory, sessionStore: options.sessionStore, accessLog, logger, clock: clock.now });
  const pages = new Router();
  pages.get('/staff/whoami', auth.requirePerson, (ctx) => {
    ctx.body = personOf(ctx);
  });
  pages.get('/staff/quiet', auth.requirePersonQuietly, (ctx) => {
    ctx.body = personOf(ctx);
  });
  pages.post('/staff/action', auth.requirePerson, (ctx) => {
    ctx.body = { by: personOf(ctx).email };
  });
  const app = createApp({ config, live, store, staff: { routed: async () => undefined }, logger, metrics, readiness: createReadiness({ store, live, metrics }), routers: [auth.router, pages] });
  const records = async (): Promise<(AccessRecord & { who?: unknown })[]> => {
    const out: AccessRecord[] = [];
    for await (const r of accessLog.list({ since: new Date(0), until: new Date(8.64e15) })) {
      out.push(r);
    }
    return out;
  };
  return { app, auth, accessLog, records, logs, clock };
}
