import type { Server } from 'node:http';
import type Koa from 'koa';
import type { DestinationStream } from 'pino';
import type { ApiKey } from '../auth/api-key.js';
import { apiKeys } from '../auth/api-keys-feature.js';
import type { KeyRing } from '../auth/key-ring.js';
import { keysFile } from '../auth/keys-reload.js';
import type { FailedKeyAttempts } from '../auth/require-api-key.js';
import { FileWatcher } from '../config/file-watch.js';
import type { Config } from '../config/load-config.js';
import { conversationOfMessage } from '../conversations/conversation-of-message.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import { createStaffApi, openStaffStores, type StaffStores } from '../conversations/staff-api.js';
import { conversationRouting } from '../conversations/staff-routing.js';
import type { SmsSender } from '../conversations/twilio-messages.js';
import type { Clinic, StaffRouting } from '../domain.js';
import type { Finding } from '../errors.js';
import { eventLoopBusy } from '../event-loop-load.js';
import { eventsFeature } from '../events/events-feature.js';
import type { EventsService, EventsServiceOptions } from '../events/events-service.js';
import { createApp, type SpoolSink } from '../http/create-app.js';
import { createHttpServer, serverLimits } from '../http/server-limits.js';
import { readinessChecks, Runner, type Component, type ReadinessCheck } from '../lifecycle.js';
import { createLogger, type Logger } from '../logger.js';
import type { MediaStore } from '../media/media-store.js';
import { MEDIA_ROUTE } from '../media/media-routes.js';
import { startMedia, type RunningMedia } from '../media/start-media.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { handleMessage } from '../service/handle-message.js';
import { LiveConfig, type Snapshot } from '../service/live-config.js';
import type { Spool } from '../spool/spool.js';
import type { StaffAuth } from '../staff/auth/staff-auth.js';
import type { StaffDirectory } from '../staff/auth/staff-file.js';
import { staffFeature, type StaffFeature } from '../staff/staff-feature.js';
import type { StaffPagesOptions } from '../staff/start-staff-pages.js';
import { openBackend, type Backend } from '../store/backend.js';
import type { Store } from '../store/store.js';
import { httpComponent, seedAndWarn } from './http-component.js';
import { openSpool } from './outage-spool.js';
import { createReadiness } from './readiness.js';
import { rulesFiles } from './rules-reload.js';
import { createInFlight, type ShutdownReport } from './shutdown.js';
import { logBrokenClinics, logStartupWarnings } from './startup-config.js';

/** A request within this long (ms) means the instance is serving: background media fetching paces itself. */
const SERVING_WINDOW_MS = 100;

/** What the start read and checked (process/startup-config.ts), or a test's own. */
export interface ServiceConfig {
  config: Readonly<Config>;
  snapshot: Snapshot;
  /** The staff API keys (KEYS_FILE); missing: no file. */
  keys: { keys: ApiKey[]; missing: boolean };
  /** Who may see which clinic's pages (STAFF_FILE); missing: no file. */
  staffFile: { directory: StaffDirectory; missing: boolean };
  /** The environment: per-clinic tokens and event secrets are read from it. */
  env: Record<string, string | undefined>;
  /** What does not stop the start but limits it (a clinic that cannot send staff replies). */
  warnings?: readonly Finding[];
}

/** What a test or the bench puts in place of the parts the configuration chooses. */
export interface ServiceOverrides {
  /** A backend instead of the one MONGODB_URI chooses (tests: memoryBackend(store), mongoBackend(store)). */
  backend?: Backend;
  /** Where log lines go instead of stdout. */
  logDestination?: DestinationStream;
  /** The events' loop timings (tests shorten them). */
  events?: Pick<EventsServiceOptions, 'pollMs' | 'timeoutMs' | 'leaseMs' | 'retryDelaysMs' | 'statsMaxAgeMs'>;
  /** The media loops' poll interval (tests shorten it), and a media store of the test's own. */
  media?: { pollMs?: number; store?: MediaStore };
  /**
   * false: the background components (events relay and dispatcher, media relay and worker)
   * are left out, so a test can count the database commands of one message alone.
   * Combined with BACKGROUND_JOBS: either off means off.
   */
  background?: boolean;
  /** The webhook pipeline's clock (when messages arrive). */
  clock?: () => Date;
  /** The staff API's clock (tests). */
  apiClock?: () => Date;
  /** Replies to patients (default: Twilio's Messages API at TWILIO_API_BASE_URL). */
  sender?: SmsSender;
  /** The webhook's answer deadline, ms. */
  pipelineDeadlineMs?: number;
  /** The staff sessions' clock (tests move it past the idle timeout). */
  staffClock?: () => Date;
  /** Where SIGHUP arrives (default: none; startService passes the process). */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** false: the HTTP component does not listen (tests drive `app.callback()`); default true. */
  listen?: boolean;
  /** The metrics (default: a fresh registry with Node's process metrics, which hold timers). */
  metrics?: Metrics;
  /**
   * The webhook's outage spool: absent, SPOOL_DIR's (with its replayer); a sink of the
   * test's own; null, none (a store outage is answered with the system-error text).
   */
  spool?: SpoolSink | null;
  /** What /readyz looks at when `spool` is overridden (absent: no spool there). */
  readySpool?: { depth(): number; writable(): Promise<boolean> };
  /** Wraps the port the pipeline reaches staff through (tests note each message routed). */
  routing?: (inner: StaffRouting) => StaffRouting;
  /** The staff pages' own parts (tests: a session middleware of their own, quick replies, the hub's poll). */
  pages?: Partial<Pick<StaffPagesOptions, 'requirePerson' | 'requirePersonQuietly' | 'streamCheck' | 'staffOf' | 'quickReplies' | 'pollMs'>>;
  /** The failed-key limit of the staff API and media (default: per address, in memory); null: none. */
  attempts?: FailedKeyAttempts | null;
}

/** The service, built and not yet listening: `runner.start()` starts it, `stop()` stops it. */
export interface BuiltService {
  app: Koa;
  /** The HTTP server around the app; it listens when the runner starts it. */
  server: Server;
  config: Readonly<Config>;
  backend: Backend;
  store: Store;
  live: LiveConfig;
  logger: Logger;
  metrics: Metrics;
  /** The outage spool (SPOOL_DIR); null when a test put its own sink (or none) in its place. */
  spool: Spool | null;
  /** The events relay and dispatcher (src/events/). */
  events: EventsService;
  /** Media fetching (background) and the thread's media look-up. */
  media: RunningMedia;
  /** The staff feature's stores (conversations, access trail). */
  staffStores: StaffStores;
  /** The staff API's service (conversations, replies). */
  conversations: ConversationService;
  /** Staff sign-in and sessions (src/staff/auth/). */
  staffAuth: StaffAuth;
  /** The front desk's pages (/staff): routers and the live hub. */
  pages: StaffFeature['pages'];
  ring: KeyRing;
  /** Every long-running part, in start order: start() starts them (and listens). */
  runner: Runner;
  /** Stops every part in reverse order under SHUTDOWN_GRACE_MS, and says how it went. */
  stop(): Promise<ShutdownReport>;
}

/**
 * Builds the whole service without listening (Fastify's build(), Medplum's initApp):
 * backend, features, app, and the components the runner starts and stops. Tests and the
 * bench call this; startService() adds the process (listening, signals). Each feature
 * folder gives its parts and components through its own factory; this composes them.
 * @param service - the checked configuration
 * @param overrides - what a test puts in place of the configured parts
 */
export async function buildService(service: ServiceConfig, overrides: ServiceOverrides = {}): Promise<BuiltService> {
  const { config, snapshot, env } = service;
  const logger = createLogger(config.logLevel, overrides.logDestination);
  const metrics = overrides.metrics ?? createMetrics({ defaults: true });
  const clock = overrides.clock ?? ((): Date => new Date());
  // BACKGROUND_JOBS=off keeps the leased jobs (events, media) off this instance's event loop:
  // another instance on the same MongoDB runs them (the loader refuses off on the embedded store).
  const background = config.backgroundJobs && overrides.background !== false;
  metrics.backgroundJobs.set(background ? 1 : 0);
  logBrokenClinics(logger, snapshot.broken ?? []);
  logStartupWarnings(logger, service.warnings ?? []);
  const live = new LiveConfig(snapshot);
  const clinic = (id: string): Clinic | undefined => live.snapshot().clinics.byId.get(id);
  const backend = overrides.backend ?? (await openBackend(config, { logger, onDrop: (table) => metrics.embeddedStoreDropped.inc({ table }) }));
  const { store } = backend;
  await seedAndWarn(config, backend, logger, snapshot);

  // The staff feature's stores; the pipeline puts messages for staff in its conversations.
  const staffStores = await openStaffStores(backend);
  const staffRouting = (overrides.routing ?? ((inner: StaffRouting): StaffRouting => inner))(conversationRouting(staffStores.conversations));
  const pipeline = { store, staff: staffRouting, logger, metrics, clock };
  // Messages the store cannot take wait on disk in the outage spool until the replayer gets them in;
  // a spooled STOP holds its number (nothing else is texted to it) until its replay applies it.
  const outage = overrides.spool === undefined ? await openSpool(config, store, logger, metrics, live, (message, receivedAt) => handleMessage(pipeline, live.snapshot(), message, 'replay', receivedAt)) : null;
  const held = (clinicId: string, phone: string): boolean => outage?.hold.has(clinicId, phone) ?? false;
  const inFlight = createInFlight();
  const loopBusy = eventLoopBusy();

  const { events, components: eventComponents } = await eventsFeature({ backend, clinics: () => live.snapshot().clinics.clinics, env, logger, registry: metrics.registry, ...(overrides.events ? { timings: overrides.events } : {}) });
  const keys = apiKeys({ keys: service.keys, keysFile: config.keysFile, accessLog: staffStores.accessLog, logger, ...(overrides.attempts === undefined ? {} : { attempts: overrides.attempts }) });
  // Media: background jobs fetch MediaUrlN; the route is guarded like the staff API.
  const media = await startMedia({
    config,
    env,
    backend,
    logger,
    clinic,
    ...(overrides.media?.pollMs === undefined ? {} : { pollMs: overrides.media.pollMs }),
    ...(overrides.media?.store ? { store: overrides.media.store } : {}),
    // The worker paces itself while this instance serves requests (one came within the last
    // 100 ms) or its event loop is more than half busy; with neither it fetches at full speed.
    busy: () => inFlight.activeWithin(SERVING_WINDOW_MS) || loopBusy(),
    registry: metrics.registry,
    conversationOf: conversationOfMessage({ store, conversations: staffStores.conversations }),
    guard: keys.guard(MEDIA_ROUTE, 'conversations:read'),
  });
  // The staff API. Replies' StatusCallback: PUBLIC_BASE_URL (required in production), else the address this server listens on.
  let listening: string | null = null;
  const { ring, attempts } = keys;
  const staff = createStaffApi({ config, live, store, stores: staffStores, ring, logger, media: media.service, callbackOrigin: () => config.publicBaseUrl ?? listening, held, ...(overrides.apiClock ? { clock: overrides.apiClock } : {}), ...(attempts ? { attempts } : {}), ...(overrides.sender ? { sender: overrides.sender } : {}) });
  // The front desk's pages (/staff), their sign-in and live hub.
  const desk = await staffFeature({
    config,
    backend,
    staffFile: service.staffFile,
    service: staff.service,
    conversations: staffStores.conversations,
    accessLog: staffStores.accessLog,
    store,
    clinic: (id) => clinic(id) ?? null,
    media: media.store,
    logger,
    // The clinic's quick replies from its live rules: a rules reload brings new ones to the next page.
    quickReplies: (clinicId) => live.snapshot().rules.get(clinicId)?.quickReplies ?? [],
    ...(overrides.staffClock ? { clock: overrides.staffClock } : {}),
    ...(overrides.pages ? { pages: overrides.pages } : {}),
  });

  // The long-running parts, started in this order and stopped in reverse (Medplum's initAppServices / shutdownApp).
  // Their readiness checks (filled once the list is complete) feed /readyz.
  const checks: ReadinessCheck[] = [];
  const report: Partial<ShutdownReport> = {};
  const components: Component[] = [
    { name: 'store', init: () => store.init(), stop: () => store.close() },
    { name: 'staff stores', init: async () => void (await Promise.all([staffStores.conversations.init(), staffStores.accessLog.init()])) },
    { name: 'background jobs', ready: () => ({ details: { backgroundJobs: background ? 'on' : 'off' } }) },
    ...eventComponents,
    ...media.components,
    ...(outage ? [outage.component(report)] : []),
    ...desk.components,
  ];
  const spoolSink = overrides.spool === undefined ? outage?.sink : (overrides.spool ?? undefined);
  const readySpool = overrides.spool === undefined ? outage?.spool : overrides.readySpool;
  const app = createApp({
    config,
    live,
    store,
    staff: staffRouting,
    logger,
    metrics,
    clock,
    ...(overrides.pipelineDeadlineMs === undefined ? {} : { pipelineDeadlineMs: overrides.pipelineDeadlineMs }),
    readiness: createReadiness({ store, live, metrics, ...(readySpool ? { spool: readySpool } : {}), lifecycle: () => runner.lifecycle(), checks }),
    ...(spoolSink ? { spool: spoolSink } : {}),
    held,
    inFlight,
    routers: [staff.router, ...media.routers, ...desk.routers],
  });
  const server = createHttpServer(app.callback(), serverLimits(config));
  const fields = { store: store.kind, clinics: snapshot.clinics.clinics.length, backgroundJobs: background ? 'on' : 'off' };
  components.push(httpComponent({ server, config, logger, fields, inFlight, report, listen: overrides.listen !== false, onListening: (origin) => (listening = origin) }));
  // Hot reload of the files (config/file-watch.ts, one watcher): RULES_DIR and CLINICS_FILE,
  // KEYS_FILE and STAFF_FILE, on change (WATCH_RULES) and SIGHUP. Stopped before the drain: a
  // reload that was running finishes (and logs) first, so the shutdown's lines come last and in order.
  const files = new FileWatcher({ logger, watch: config.watchRules, ...(overrides.signals ? { signals: overrides.signals } : {}) });
  const keysWatch = keysFile({ file: config.keysFile, ring, logger, production: config.nodeEnv === 'production', initial: service.keys.keys, registry: metrics.registry });
  files.add(rulesFiles({ config, env, live, logger, metrics }));
  files.add(keysWatch);
  files.add(desk.staffAuth.staffFile);
  // The keys file's last reload (refused: degraded, with file:line:col) shows on /readyz.
  components.push({ name: 'config files', start: () => files.start(), stop: () => files.stop(), ready: () => keysWatch.status() });
  checks.push(...readinessChecks(components));
  const runner = new Runner(components, { logger, background });
  let stopping: Promise<ShutdownReport> | undefined;
  return {
    app,
    server,
    config,
    backend,
    store,
    live,
    logger,
    metrics,
    spool: outage?.spool ?? null,
    events,
    media,
    staffStores,
    conversations: staff.service,
    staffAuth: desk.staffAuth,
    pages: desk.pages,
    ring,
    runner,
    stop() {
      stopping ??= (async (): Promise<ShutdownReport> => {
        const started = performance.now();
        await runner.stop(config.shutdownGraceMs);
        const done: ShutdownReport = { drained: true, abandoned: 0, drainMs: 0, flushed: 0, spoolLeft: outage?.spool.depth() ?? 0, ...report, totalMs: Math.round(performance.now() - started) };
        logger.child({ component: 'shutdown' }).info(done, 'shutdown complete');
        return done;
      })();
      return stopping;
    },
  };
}
