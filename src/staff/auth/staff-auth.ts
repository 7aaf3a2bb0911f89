import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AccessLogStore } from '../../auth/access-log.js';
import type { Config } from '../../config/load-config.js';
import type { Logger } from '../../logger.js';
import type { Backend } from '../../store/backend.js';
import { createAuthRouter } from './auth-routes.js';
import { OidcClient } from './oidc-client.js';
import { requirePerson } from './require-person.js';
import { MemorySessionStore, type StaffSessionStore } from './session-store.js';
import { reloadableFile, type ReloadableFile } from '../../config/file-watch.js';
import { loadStaffFile, type StaffDirectory } from './staff-file.js';
import { StaffSessions } from './staff-sessions.js';

export interface StaffAuthDeps {
  config: Readonly<Pick<Config, 'nodeEnv' | 'publicBaseUrl' | 'staffFile' | 'staffOidcIssuer' | 'staffOidcClientId' | 'staffOidcClientSecret' | 'staffSessionIdleMinutes'>>;
  /** The staff file as start-up loaded it. */
  directory: StaffDirectory;
  sessionStore: StaffSessionStore;
  accessLog: AccessLogStore;
  logger: Logger;
  clock?: () => Date;
}

export interface StaffAuth {
  /** The routes under /staff/auth (mount beside the pages). */
  router: Router;
  /** Pages and actions: a signed-in person on ctx.state.person, else sign-in / 401 (counts as activity). */
  requirePerson: Middleware;
  /** The same check that does not count as activity: for an SSE stream's start and its periodic re-check. */
  requirePersonQuietly: Middleware;
  sessions: StaffSessions;
  /** The access trail its records go to (the staff API's). */
  accessLog: AccessLogStore;
  /**
   * The staff file in force (`.current().staffOf(clinicId)`): a source of the one file watcher
   * (config/file-watch.ts), which buildService gives it to; an invalid edit keeps the last good list.
   */
  staffFile: ReloadableFile<StaffDirectory>;
}

/**
 * Sign-in and sessions for the staff pages: the identity provider (STAFF_OIDC_ISSUER) or,
 * in development without one, the demo sign-in; server-side sessions; the staff file.
 */
export function createStaffAuth(deps: StaffAuthDeps): StaffAuth {
  const production = deps.config.nodeEnv === 'production';
  const clock = deps.clock ?? ((): Date => new Date());
  const staffFile = reloadableFile({
    name: 'staff file',
    file: deps.config.staffFile,
    initial: deps.directory,
    kept: 'the last good staff list stays live',
    load: async () => (await loadStaffFile(deps.config.staffFile)).directory,
    describe: (directory) => ({ entries: directory.entries.length }),
    logger: deps.logger,
  });
  const sessions = new StaffSessions({ store: deps.sessionStore, directory: () => staffFile.current(), idleMs: deps.config.staffSessionIdleMinutes * 60_000, clock });
  const { staffOidcIssuer: issuer, staffOidcClientId: clientId, staffOidcClientSecret: clientSecret } = deps.config;
  const oidc = issuer !== null && clientId !== null && clientSecret !== null ? new OidcClient({ issuer, clientId, clientSecret, allowHttp: !production }) : null;
  if (oidc === null && !production) {
    deps.logger.warn('STAFF_OIDC_ISSUER is not set: the staff pages offer the demo sign-in as the staff file\'s people (refused in production)');
  }
  const required = requirePerson({ sessions, production });
  const router = createAuthRouter({ sessions, directory: () => staffFile.current(), accessLog: deps.accessLog, logger: deps.logger, production, publicBaseUrl: deps.config.publicBaseUrl, oidc, clock, requirePerson: required });
  return {
    router,
    requirePerson: required,
    requirePersonQuietly: requirePerson({ sessions, production, touch: false }),
    sessions,
    accessLog: deps.accessLog,
    staffFile,
  };
}

/**
 * The sessions' store part beside the main store: memory on the embedded store; on
 * MongoDB the `staffSessions` collection (imported only then).
 */
export async function openStaffSessionStore(backend: Backend, logger?: Logger): Promise<StaffSessionStore> {
  if (backend.kind === 'mongo') {
    const { MongoSessionStore } = await import('./mongo-session-store.js');
    return new MongoSessionStore(backend.db, logger ? { logger } : {});
  }
  return new MemorySessionStore();
}
