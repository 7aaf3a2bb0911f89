import type Router from '@koa/router';
import { MemoryAccessLog, type AccessLogStore } from '../auth/access-log.js';
import type { KeyRing } from '../auth/key-ring.js';
import { apiSecurityHeaders } from '../http/api-headers.js';
import type { FailedKeyAttempts } from '../auth/require-api-key.js';
import type { Config } from '../config/load-config.js';
import type { Logger } from '../logger.js';
import type { LiveConfig } from '../service/live-config.js';
import type { Store } from '../store/store.js';
import type { Backend } from '../store/backend.js';
import { ConversationService } from './conversation-service.js';
import { createStaffRouter } from './conversation-routes.js';
import type { ConversationStore } from './conversation-store.js';
import type { MediaLinks } from './media-links.js';
import { MemoryConversationStore } from './memory-conversation-store.js';
import { OPENAPI_PATH, openApiDocument } from './openapi-document.js';
import { addStatusCallbackRoute } from './status-callback-route.js';
import { createTwilioSender, type SmsSender } from './twilio-messages.js';

/** The staff feature's store parts. */
export interface StaffStores {
  conversations: ConversationStore;
  accessLog: AccessLogStore;
}

/**
 * The store parts beside the main store: the embedded ones read the main store's audit
 * records; the MongoDB ones use the backend's database (and are imported only then, so
 * the embedded backend never loads the driver).
 * @param backend - from openBackend
 */
export async function openStaffStores(backend: Backend): Promise<StaffStores> {
  if (backend.kind === 'mongo') {
    const { MongoConversationStore } = await import('./mongo-conversation-store.js');
    const { MongoAccessLog } = await import('../auth/mongo-access-log.js');
    return { conversations: new MongoConversationStore(backend.db), accessLog: new MongoAccessLog(backend.db) };
  }
  const conversations = new MemoryConversationStore(backend.store);
  // The embedded store is bounded: a conversation goes with the last message of its sender.
  backend.drops?.onMessageDropped((dropped) => conversations.forget(dropped));
  return { conversations, accessLog: new MemoryAccessLog() };
}

export interface StaffApiDeps {
  config: Readonly<Config>;
  live: LiveConfig;
  store: Store;
  stores: StaffStores;
  ring: KeyRing;
  logger: Logger;
  clock?: () => Date;
  /** Defaults to the `twilio` client at TWILIO_API_BASE_URL. */
  sender?: SmsSender;
  media?: MediaLinks;
  attempts?: FailedKeyAttempts;
  /**
   * The origin replies' StatusCallback points at (configuration only, never a request
   * header): defaults to PUBLIC_BASE_URL; main adds the listening address in development.
   */
  callbackOrigin?: () => string | null;
  /** True while an opt-out from the number waits in the outage spool: staff replies are refused (OPTED_OUT). */
  held?: (clinicId: string, phone: string) => boolean;
}

/**
 * Builds the staff API: the service and its router (conversations routes, Twilio's
 * delivery-status callback, and the OpenAPI document of every route at /v1/openapi.json),
 * for createApp's `routers`.
 */
export function createStaffApi(deps: StaffApiDeps): { router: Router; service: ConversationService } {
  const clock = deps.clock ?? ((): Date => new Date());
  const service = new ConversationService({
    conversations: deps.stores.conversations,
    store: deps.store,
    sender: deps.sender ?? createTwilioSender({ baseUrl: deps.config.twilioApiBaseUrl }),
    clock,
    callbackOrigin: deps.callbackOrigin ?? ((): string | null => deps.config.publicBaseUrl),
    ...(deps.held ? { held: deps.held } : {}),
    ...(deps.media ? { media: deps.media } : {}),
    clinic(clinicId) {
      const snapshot = deps.live.snapshot();
      const clinic = snapshot.clinics.byId.get(clinicId);
      if (!clinic) {
        return null;
      }
      return { clinic, accountSid: clinic.accountSid ?? deps.config.twilioAccountSid, authToken: snapshot.tokens.get(clinic.id)?.[0] ?? null };
    },
  });
  const router = createStaffRouter({
    service,
    ring: () => deps.ring,
    accessLog: deps.stores.accessLog,
    clock,
    ...(deps.attempts ? { attempts: deps.attempts } : {}),
  });
  const document = JSON.stringify(openApiDocument({ serverUrl: deps.config.publicBaseUrl }));
  router.get(OPENAPI_PATH, apiSecurityHeaders(), function openApi(ctx) {
    ctx.type = 'application/json';
    ctx.body = document;
  });
  addStatusCallbackRoute(router, {
    service,
    snapshot: () => deps.live.snapshot(),
    signatureValidation: deps.config.signatureValidation,
    publicBaseUrl: deps.config.publicBaseUrl,
    defaultAccountSid: deps.config.twilioAccountSid,
    bodyLimitBytes: deps.config.bodyLimitBytes,
    logger: deps.logger,
  });
  return { router, service };
}
