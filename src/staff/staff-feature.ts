import type Router from '@koa/router';
import type { AccessLogStore } from '../auth/access-log.js';
import type { Config } from '../config/load-config.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { ConversationStore } from '../conversations/conversation-store.js';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Backend } from '../store/backend.js';
import { createStaffAuth, openStaffSessionStore, type StaffAuth } from './auth/staff-auth.js';
import type { StaffDirectory } from './auth/staff-file.js';
import { sessionStreamCheck, startStaffPages, type StaffPagesOptions } from './start-staff-pages.js';

export interface StaffFeatureOptions extends Pick<StaffPagesOptions, 'store' | 'clinic' | 'media' | 'quickReplies'> {
  config: Readonly<Config>;
  backend: Backend;
  /** Who may see which clinic (STAFF_FILE, read at start). */
  staffFile: { directory: StaffDirectory; missing: boolean };
  service: ConversationService;
  conversations: ConversationStore;
  accessLog: AccessLogStore;
  logger: Logger;
  /** The sessions' clock (tests move it past the idle timeout). */
  clock?: () => Date;
  /** The pages' own parts a test puts in place (its own session middleware, quick replies, the hub's poll). */
  pages?: Partial<Pick<StaffPagesOptions, 'requirePerson' | 'requirePersonQuietly' | 'streamCheck' | 'staffOf' | 'quickReplies' | 'pollMs'>>;
}

export interface StaffFeature {
  staffAuth: StaffAuth;
  pages: { routers: Router[]; hub: ReturnType<typeof startStaffPages>['hub'] };
  routers: Router[];
  /** The sessions' store (indexes) and the live hub (every instance serves its own streams); the staff file is watched with the others (staffAuth.staffFile). */
  components: Component[];
}

/**
 * The front desk in the browser: sign-in and sessions (src/staff/auth) and the pages under
 * /staff with their live hub.
 * @param options - config, backend (the sessions' store), the staff file, the staff API's service and stores, logger
 */
export async function staffFeature(options: StaffFeatureOptions): Promise<StaffFeature> {
  const { config, logger } = options;
  const sessionStore = await openStaffSessionStore(options.backend, logger);
  if (options.staffFile.missing) {
    logger.warn({ staffFile: config.staffFile }, 'no staff file: every staff sign-in gets "no access"');
  }
  const staffAuth = createStaffAuth({
    config,
    directory: options.staffFile.directory,
    sessionStore,
    accessLog: options.accessLog,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const pages = startStaffPages({
    service: options.service,
    conversations: options.conversations,
    store: options.store,
    clinic: options.clinic,
    accessLog: options.accessLog,
    media: options.media,
    logger,
    publicBaseUrl: config.publicBaseUrl,
    // The staff sign-in's sessions, unless a test puts its own session middleware in their place.
    ...(options.pages?.requirePerson
      ? {}
      : { requirePerson: staffAuth.requirePerson, requirePersonQuietly: staffAuth.requirePersonQuietly, streamCheck: sessionStreamCheck(staffAuth.sessions, config.nodeEnv === 'production') }),
    staffOf: (clinicId) => staffAuth.staffFile.current().staffOf(clinicId).map((s) => ({ email: s.email, name: s.name ?? '' })),
    ...(options.quickReplies ? { quickReplies: options.quickReplies } : {}),
    ...options.pages,
  });
  return {
    staffAuth,
    pages,
    routers: [staffAuth.router, ...pages.routers],
    components: [
      { name: 'staff sessions', init: () => sessionStore.init() },
      { name: 'staff pages hub', start: () => pages.hub.start(), stop: () => pages.hub.stop() },
    ],
  };
}
