import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AccessLogStore } from '../auth/access-log.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { ConversationStore } from '../conversations/conversation-store.js';
import type { Clinic } from '../domain.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MediaStore } from '../media/media-store.js';
import type { Store } from '../store/store.js';
import { assetRoutes, loadAssets } from './assets.js';
import { cookieNames, parseCookieId } from './auth/session-cookie.js';
import type { StaffSessions } from './auth/staff-sessions.js';
import { LiveHub } from './live/live-hub.js';
import { createStaffPages, type QuickReplyTemplate, type StaffPagesDeps } from './staff-pages.js';
import type { StaffMember } from './views/thread.js';

export interface StaffPagesOptions {
  service: ConversationService;
  conversations: ConversationStore;
  store: Pick<Store, 'findPatientsByPhone' | 'findNextAppointment' | 'getOptOut' | 'getAppointment'>;
  clinic(clinicId: string): Clinic | null;
  accessLog: AccessLogStore;
  media: Pick<MediaStore, 'get' | 'openFile'>;
  logger: Logger;
  /** The session middleware (src/staff/auth); without it every page is refused (401). */
  requirePerson?: Middleware;
  requirePersonQuietly?: Middleware;
  streamCheck?: StaffPagesDeps['streamCheck'];
  quickReplies?(clinicId: string): readonly QuickReplyTemplate[];
  staffOf?(clinicId: string): readonly StaffMember[];
  publicBaseUrl: string | null;
  /** The live poller's interval, ms (tests shorten it). */
  pollMs?: number;
  clock?: () => Date;
}

/**
 * The live stream's session re-check on the staff sessions (src/staff/auth): the session the
 * stream opened with must still stand (not counted as activity) and still see the clinic.
 * @param sessions - the staff sessions
 * @param production - which cookie name the session travels in
 */
export function sessionStreamCheck(sessions: Pick<StaffSessions, 'lookup'>, production: boolean): NonNullable<StaffPagesDeps['streamCheck']> {
  const names = cookieNames(production);
  return (ctx, clinicId) => {
    const cookieId = parseCookieId(ctx.cookies.get(names.session));
    return async () => {
      const found = await sessions.lookup(cookieId, false);
      return found.ok && found.person.clinics.includes(clinicId);
    };
  };
}

/** Refuses every page: no sign-in is wired (safe by default). */
const NOBODY: Middleware = async function noSignIn(): Promise<void> {
  throw new AppError('UNAUTHORIZED', 'staff sign-in is not configured on this service');
};

/**
 * The staff pages of one instance: their routers (pages, assets) and the live hub (one
 * long-running part: started with the service on every instance, background jobs or not,
 * because every instance serves streams; stopped with it).
 * @param options - the conversations service and stores, the session middleware
 */
export function startStaffPages(options: StaffPagesOptions): { routers: Router[]; hub: LiveHub } {
  const hub = new LiveHub({ conversations: options.conversations, logger: options.logger, ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }) });
  const pages = createStaffPages({
    service: options.service,
    store: options.store,
    clinic: options.clinic,
    requirePerson: options.requirePerson ?? NOBODY,
    ...(options.requirePersonQuietly ? { requirePersonQuietly: options.requirePersonQuietly } : {}),
    ...(options.streamCheck ? { streamCheck: options.streamCheck } : {}),
    accessLog: options.accessLog,
    media: options.media,
    hub,
    publicBaseUrl: options.publicBaseUrl,
    ...(options.quickReplies ? { quickReplies: options.quickReplies } : {}),
    ...(options.staffOf ? { staffOf: options.staffOf } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { routers: [assetRoutes(loadAssets()), pages], hub };
}
