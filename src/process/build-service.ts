import type { Server } from 'node:http';
import type Koa from 'koa';
import type { DestinationStream } from 'pino';
import type { ApiKey } from '../auth/api-key.js';
import { MemoryFailedKeyAttempts } from '../auth/failed-key-attempts.js';
import { KeyRing } from '../auth/key-ring.js';
import { keysFile } from '../auth/keys-reload.js';
import { staffGuard } from '../auth/require-api-key.js';
import { createStaffAuth, openStaffSessionStore, type StaffAuth } from '../staff/auth/staff-auth.js';
import { sessionStreamCheck, startStaffPages, type StaffPagesOptions } from '../staff/start-staff-pages.js';
import type { StaffDirectory } from '../staff/auth/staff-file.js';
import type { Config } from '../config/load-config.js';
import { createStaffApi, openStaffStores, type StaffStores } from '../conversations/staff-api.js';
import { conversationRouting } from '../conversations/staff-routing.js';
import type { SmsSender } from '../conversations/twilio-messages.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { StaffRouting } from '../domain.js';
import type { FailedKeyAttempts } from '../auth/require-api-key.js';
import { eventLoopBusy } from '../event-loop-load.js';
import { EventsService, type EventsServiceOptions } from '../events/events-service.js';
import { openEventsStorage } from '../events/events-storage.js';
import { createApp, type SpoolSink } from '../http/create-app.js';
import { createHttpServer, serverLimits } from '../http/server-limits.js';
import { loadSeed } from '../import/seed.js';
import { readinessChecks, Runner, type Component, type ReadinessCheck } from '../lifecycle.js';
import { createLogger, type Logger } from '../logger.js';
import { MEDIA_ROUTE } from '../media/media-routes.js';
import { startMedia, type RunningMedia } from '../media/start-media.js';
import type { MediaStore } from '../media/media-store.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { handleMessage } from '../service/handle-message.js';
import { LiveConfig, type Snapshot } from '../service/live-config.js';
import { SpoolReplayer, type ReplayHandler } from '../spool/replayer.js';
import { ConsentHold, holdSpooledOptOuts, spoolWithConsent } from '../service/consent-hold.js';
import { conversationOfMessage } from '../conversations/conversation-of-message.js';
import { Spool } from '../spool/spool.js';
import { openBackend, type Backend } from '../store/backend.js';
import type { Store } from '../store/store.js';
import { createReadiness } from './readiness.js';
import { logBrokenClinics, logStartupWarnings } from './startup-config.js';
import type { Finding } from '../errors.js';
import { listeningOrigin } from '../conversations/status-callback-url.js';
import { rulesFiles } from './rules-reload.js';
import { FileWatcher } from '../config/file-watch.js';
import { createInFlight, drainServer, flushSpool, trackConnections, type ShutdownReport } from './shutdown.js';

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
  pages: ReturnType<typeof startStaffPages>;
  ring: KeyRing;
  /** Every long-running part, in start order: start() starts them (and listens). */
  runner: Runner;
  /** Stops every part in reverse order under SHUTDOWN_GRACE_MS, and says how it went. */
  stop(): Promise<ShutdownReport>;
}

/**
 * Builds the whole service without listening (Fastify's build(), Medplum's initApp):
 * backend, features, app, and the components the runner starts and stops. Tests and the
 * bench call this; startService() adds the process (listening, signals).
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
  const backend = overrides.backend ?? (await openBackend(config, { logger, onDrop: (table) => metrics.embeddedStoreDropped.inc({ table }) }));
  const { store } = backend;
  await warnings(config, backend, logger, snapshot);

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

  // Events: the relay and dispatcher deliver what completions left in the outbox (docs/events.md).
  const events = new EventsService({ storage: await openEventsStorage(backend), store, clinics: () => live.snapshot().clinics.clinics, env, logger, registry: metrics.registry, ...overrides.events });

  // The staff API: keys, conversations, access trail.
  if (service.keys.missing) {
    logger.warn({ keysFile: config.keysFile }, 'no staff API keys file: the staff API refuses every request (401)');
  }
  const ring = new KeyRing(service.keys.keys);
  const production = config.nodeEnv === 'production';
  // The staff pages' sign-in and sessions.
  const staffSessions = await openStaffSessionStore(backend, logger);
  if (service.staffFile.missing) {
    logger.warn({ staffFile: config.staffFile }, 'no staff file: every staff sign-in gets "no access"');
  }
  const staffAuth = createStaffAuth({
    config,
    directory: service.staffFile.directory,
    sessionStore: staffSessions,
    accessLog: staffStores.accessLog,
    logger,
    ...(overrides.staffClock ? { clock: overrides.staffClock } : {}),
  });
  // Failed key attempts are counted per client address in this instance's memory (src/auth/failed-key-attempts.ts),
  // one count for every route a key opens (the staff API and media).
  const attempts = overrides.attempts === undefined ? new MemoryFailedKeyAttempts() : (overrides.attempts ?? undefined);
  // Media: background jobs fetch MediaUrlN; the route is guarded like the staff API.
  const media = await startMedia({
    config,
    env,
    backend,
    logger,
    clinic: (id) => live.snapshot().clinics.byId.get(id),
    ...(overrides.media?.pollMs === undefined ? {} : { pollMs: overrides.media.pollMs }),
    ...(overrides.media?.store ? { store: overrides.media.store } : {}),
    // The worker paces itself while this instance serves requests (one came within the last
    // 100 ms) or its event loop is more than half busy; with neither it fetches at full speed.
    busy: () => inFlight.activeWithin(SERVING_WINDOW_MS) || loopBusy(),
    registry: metrics.registry,
    conversationOf: conversationOfMessage({ store, conversations: staffStores.conversations }),
    guard: staffGuard({ accessLog: staffStores.accessLog, clock: () => new Date(), ring: () => ring, ...(attempts ? { attempts } : {}) }, MEDIA_ROUTE, 'conversations:read'),
  });
  // Replies' StatusCallback: PUBLIC_BASE_URL (required in production), else the address this server listens on.
  let listening: string | null = null;
  const staff = createStaffApi({ config, live, store, stores: staffStores, ring, logger, media: media.service, callbackOrigin: () => config.publicBaseUrl ?? listening, held, ...(overrides.apiClock ? { clock: overrides.apiClock } : {}), ...(attempts ? { attempts } : {}), ...(overrides.sender ? { sender: overrides.sender } : {}) });

  // The front desk's pages (/staff) and their live hub, which every instance runs: each serves its own streams.
  const pages = startStaffPages({
    service: staff.service,
    conversations: staffStores.conversations,
    store,
    clinic: (id) => live.snapshot().clinics.byId.get(id) ?? null,
    accessLog: staffStores.accessLog,
    media: media.store,
    logger,
    publicBaseUrl: config.publicBaseUrl,
    // The staff sign-in's sessions, unless a test puts its own session middleware in their place.
    ...(overrides.pages?.requirePerson
      ? {}
      : { requirePerson: staffAuth.requirePerson, requirePersonQuietly: staffAuth.requirePersonQuietly, streamCheck: sessionStreamCheck(staffAuth.sessions, production) }),
    staffOf: (clinicId) => staffAuth.staffFile.current().staffOf(clinicId).map((s) => ({ email: s.email, name: s.name ?? '' })),
    // The clinic's quick replies from its live rules: a rules reload brings new ones to the next page.
    quickReplies: (clinicId) => live.snapshot().rules.get(clinicId)?.quickReplies ?? [],
    ...overrides.pages,
  });

  // The long-running parts, started in this order and stopped in reverse (Medplum's initAppServices / shutdownApp).
  // Their readiness checks (filled once the list is complete) feed /readyz.
  const checks: ReadinessCheck[] = [];
  const report: Partial<ShutdownReport> = {};
  const storeComponent: Component = { name: 'store', init: () => store.init(), stop: () => store.close() };
  const components: Component[] = [
    storeComponent,
    { name: 'staff stores', init: async () => void (await Promise.all([staffStores.conversations.init(), staffStores.accessLog.init(), staffSessions.init()])) },
    { name: 'background jobs', ready: () => ({ details: { backgroundJobs: background ? 'on' : 'off' } }) },
    {
      name: 'events',
      background: true,
      init: () => events.init(),
      start: () => events.start(),
      stop: (budgetMs) => events.stop(budgetMs),
      // The oldest pending event's age is shown, never a reason: with the database down it is unknown.
      ready: async () => ({ details: { eventsOldestPendingAgeSeconds: await events.oldestPendingAgeSeconds().then(Math.round, () => 'unknown') } }),
    },
    ...media.components,
    ...(outage ? [outage.component(report)] : []),
    { name: 'staff pages hub', start: () => pages.hub.start(), stop: () => pages.hub.stop() },
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
    routers: [staff.router, ...media.routers, staffAuth.router, ...pages.routers],
  });
  const server = createHttpServer(app.callback(), serverLimits(config));
  const connections = trackConnections(server);
  components.push({
    name: 'http',
    start: async () => {
      if (overrides.listen !== false) {
        await listen(server, config, logger, { store: store.kind, clinics: snapshot.clinics.clinics.length, backgroundJobs: background ? 'on' : 'off' });
        listening = listeningOrigin(server.address());
      }
    },
    stop: async (budgetMs) => void Object.assign(report, await drainServer({ server, connections, inFlight, graceMs: budgetMs, logger })),
  });
  // Hot reload of the files (config/file-watch.ts, one watcher): RULES_DIR and CLINICS_FILE,
  // KEYS_FILE and STAFF_FILE, on change (WATCH_RULES) and SIGHUP. Stopped before the drain: a
  // reload that was running finishes (and logs) first, so the shutdown's lines come last and in order.
  const files = new FileWatcher({ logger, watch: config.watchRules, ...(overrides.signals ? { signals: overrides.signals } : {}) });
  const keys = keysFile({ file: config.keysFile, ring, logger, production, initial: service.keys.keys, registry: metrics.registry });
  files.add(rulesFiles({ config, env, live, logger, metrics }));
  files.add(keys);
  files.add(staffAuth.staffFile);
  // The keys file's last reload (refused: degraded, with file:line:col) shows on /readyz.
  components.push({ name: 'config files', start: () => files.start(), stop: () => files.stop(), ready: () => keys.status() });
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
    staffAuth,
    pages,
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

/**
 * The outage spool at SPOOL_DIR, its replayer, the sink the webhook writes to (which wakes
 * the replayer), and the replayer's component: it replays what an earlier run left and
 * whatever the next outage brings, and its stop replays what the drain spooled while the
 * store answers.
 */
async function openSpool(
  config: Readonly<Config>,
  store: Store,
  logger: Logger,
  metrics: Metrics,
  live: LiveConfig,
  replay: ReplayHandler,
): Promise<{ spool: Spool; sink: SpoolSink; hold: ConsentHold; component(report: Partial<ShutdownReport>): Component }> {
  const spool = await Spool.open({ dir: config.spoolDir, logger, onDepth: (depth) => metrics.spoolDepth.set(depth) });
  const hold = new ConsentHold();
  await holdSpooledOptOuts(hold, await spool.list(), live.snapshot());
  const replayer = new SpoolReplayer({
    spool,
    store,
    logger,
    metrics,
    replay: async (message, receivedAt) => {
      const result = await replay(message, receivedAt);
      hold.replayed(message);
      return result;
    },
  });
  const sink = spoolWithConsent({ append: (m, at) => spool.append(m, at), notify: () => replayer.notify(), snapshot: () => live.snapshot(), hold });
  // /metrics: the spool's depth (sms_spool_depth), replays (sms_spool_replayed_total: its rate is the replay rate),
  // the oldest entry's age and the held numbers.
  metrics.spoolSource.oldestReceivedAt = () => spool.oldestReceivedAt();
  metrics.spoolSource.heldNumbers = () => hold.size();
  return {
    spool,
    sink,
    hold,
    component: (report: Partial<ShutdownReport>): Component => ({
      name: 'spool replayer',
      start: () => replayer.start(),
      stop: async () => void Object.assign(report, await flushSpool({ replayer, spool, logger })),
    }),
  };
}

/** Listens on PORT/HOST and logs where. */
async function listen(server: Server, config: Readonly<Config>, logger: Logger, fields: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  logger.info({ pid: process.pid, address: typeof address === 'object' && address ? `${address.address}:${address.port}` : address, ...fields }, 'listening');
}

/** The start's warnings, and the embedded store's seed. */
async function warnings(config: Readonly<Config>, backend: Backend, logger: Logger, snapshot: Snapshot): Promise<void> {
  if (backend.kind === 'memory' && config.seedFile) {
    const summary = await loadSeed(backend.store, config.seedFile, snapshot.clinics);
    logger.info({ seedFile: config.seedFile, ...summary }, 'embedded store seeded');
  }
  if (backend.kind === 'memory') {
    logger.warn(
      { maxMessages: config.memoryStoreMaxMessages },
      'using the embedded store: nothing is kept across restarts, and only the newest MEMORY_STORE_MAX_MESSAGES finished messages (set MONGODB_URI for production)',
    );
  }
  if (config.devToken) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: using the local development token (refused in production)');
  }
  if (!config.signatureValidation) {
    logger.warn('TWILIO_SIGNATURE_VALIDATION=off: anyone can post to the webhook; for local trials only');
  }
}
