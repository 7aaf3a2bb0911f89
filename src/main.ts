import { pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import type Koa from 'koa';
import type { Config } from './config/load-config.js';
import { AppError, formatFindings, isAppError } from './errors.js';
import { createApp } from './http/create-app.js';
import { createHttpServer, serverLimits } from './http/server-limits.js';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { handleMessage } from './service/handle-message.js';
import { LiveConfig } from './service/live-config.js';
import { createReadiness, type Lifecycle } from './service/readiness.js';
import { loadStartupConfig, logBrokenClinics, logStartupWarnings } from './service/startup-config.js';
import { startRulesReload } from './service/rules-reload.js';
import { createInFlight, gracefulShutdown, trackConnections, type ShutdownReport } from './service/shutdown.js';
import { SpoolReplayer } from './spool/replayer.js';
import { ConsentHold, holdSpooledOptOuts, spoolWithConsent } from './service/consent-hold.js';
import { Spool } from './spool/spool.js';
import { openBackend, type Backend } from './store/backend.js';
import type { Store } from './store/store.js';
import { loadSeed } from './import/seed.js';
import { initializeStore } from './service/store-init.js';
import { EventsService, type EventsServiceOptions } from './events/events-service.js';
import { openEventsStorage } from './events/events-storage.js';
import { startMedia, type RunningMedia } from './media/start-media.js';
import { loadKeysFile } from './auth/api-keys-file.js';
import { KeyRing } from './auth/key-ring.js';
import { MemoryFailedKeyAttempts } from './auth/failed-key-attempts.js';
import { startKeysReload } from './auth/keys-reload.js';
import { createStaffApi, openStaffStores } from './conversations/staff-api.js';
import { listeningOrigin } from './conversations/status-callback-url.js';
import { staffGuard } from './auth/require-api-key.js';
import { conversationOfMessage } from './conversations/conversation-of-message.js';
import { MEDIA_ROUTE } from './media/media-routes.js';
import { conversationRouting } from './conversations/staff-routing.js';
import { eventLoopBusy } from './event-loop-load.js';
import { sessionStreamCheck, startStaffPages } from './staff/start-staff-pages.js';
import { loadStaffFile } from './staff/auth/staff-file.js';
import { createStaffAuth, openStaffSessionStore, type StaffAuth } from './staff/auth/staff-auth.js';

/** A request within this long (ms) means the instance is serving: background media fetching paces itself. */
const SERVING_WINDOW_MS = 100;

export interface RunningService {
  server: Server;
  /** The Koa app the server runs (its routers list the routes served). */
  app: Koa;
  config: Readonly<Config>;
  store: Store;
  live: LiveConfig;
  logger: Logger;
  metrics: Metrics;
  /** The outage spool (SPOOL_DIR). */
  spool: Spool;
  /** The events relay and dispatcher (src/events/). */
  events: EventsService;
  /** Media fetching (background) and the thread's media look-up. */
  media: RunningMedia;
  /** Staff sign-in and sessions (src/staff/auth/). */
  staffAuth: StaffAuth;
  /** Stops accepting, waits for requests in flight (SHUTDOWN_GRACE_MS), flushes the spool, closes the store. */
  stop(): Promise<ShutdownReport>;
}

export interface StartOptions {
  /** A backend to use instead of the one MONGODB_URI chooses (tests: memoryBackend(store), mongoBackend(store)). */
  backend?: Backend;
  /** The events' loop timings (tests shorten them). */
  events?: Pick<EventsServiceOptions, 'pollMs' | 'timeoutMs' | 'leaseMs' | 'retryDelaysMs' | 'statsMaxAgeMs'>;
  /** The media loops' poll interval (tests shorten it). */
  media?: { pollMs?: number };
  /** Where log lines go instead of stdout (tests). */
  logDestination?: DestinationStream;
  /**
   * false: the background services (events relay and dispatcher, media relay and worker) are
   * not started, so a test can count the database commands of one message alone (their polls
   * would add their own). Default true. Combined with BACKGROUND_JOBS: either off means off.
   */
  background?: boolean;
  /** The staff sessions' clock (tests move it past the idle timeout). */
  staffClock?: () => Date;
}

/**
 * The composition root: config, clinics, rules and keys (every problem reported at once)
 * -> store -> app -> listen.
 * @param env - the environment (process.env in production)
 */
export async function startService(env: Record<string, string | undefined>, options: StartOptions = {}): Promise<RunningService> {
  const { config, snapshot, more, warnings } = await loadStartupConfig(env, (c) => loadAll([loadKeysFile(c.keysFile, { production: c.nodeEnv === 'production' }), loadStaffFile(c.staffFile)]));
  const [keys, staffFile] = more;
  const production = config.nodeEnv === 'production';
  const logger = createLogger(config.logLevel, options.logDestination);
  const metrics = createMetrics({ defaults: true });
  // BACKGROUND_JOBS=off keeps the leased jobs (events, media) off this instance's event loop:
  // another instance on the same MongoDB runs them (the loader refuses off on the embedded store).
  const background = config.backgroundJobs && options.background !== false;
  metrics.backgroundJobs.set(background ? 1 : 0);
  let lifecycle: Lifecycle = 'starting';
  logBrokenClinics(logger, snapshot.broken ?? []);
  logStartupWarnings(logger, warnings);
  const live = new LiveConfig(snapshot);
  const backend = options.backend ?? (await openBackend(config, { logger, onDrop: (table) => metrics.embeddedStoreDropped.inc({ table }) }));
  const { store } = backend;
  const storeInit = initializeStore(store, logger);
  if (store.kind === 'memory' && config.seedFile) {
    const summary = await loadSeed(store, config.seedFile, snapshot.clinics);
    logger.info({ seedFile: config.seedFile, ...summary }, 'embedded store seeded');
  }
  if (store.kind === 'memory') {
    logger.warn(
      { maxMessages: 'maxMessages' in store ? store.maxMessages : undefined },
      'using the embedded store: nothing is kept across restarts, and only the newest MEMORY_STORE_MAX_MESSAGES finished messages (set MONGODB_URI for production)',
    );
  }
  if (config.devToken) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: using the local development token (refused in production)');
  }
  if (!config.signatureValidation) {
    logger.warn('TWILIO_SIGNATURE_VALIDATION=off: anyone can post to the webhook; for local trials only');
  }
  // Messages the store cannot take wait on disk in the outage spool until the replayer gets them in.
  const spool = await Spool.open({ dir: config.spoolDir, logger, onDepth: (depth) => metrics.spoolDepth.set(depth) });
  // The staff feature's stores; the pipeline puts messages for staff in its conversations.
  const staffStores = await openStaffStores(backend);
  const staffRouting = conversationRouting(staffStores.conversations);
  const pipeline = { store, staff: staffRouting, logger, metrics, clock: () => new Date() };
  // A spooled STOP holds its number (nothing else is texted to it) until its replay applies it.
  const hold = new ConsentHold();
  await holdSpooledOptOuts(hold, await spool.list(), live.snapshot());
  const replayer = new SpoolReplayer({
    spool,
    store,
    logger,
    metrics,
    replay: async (message, receivedAt) => {
      const result = await handleMessage(pipeline, live.snapshot(), message, 'replay', receivedAt);
      hold.replayed(message);
      return result;
    },
  });
  const spoolSink = spoolWithConsent({ append: (m, at) => spool.append(m, at), notify: () => replayer.notify(), snapshot: () => live.snapshot(), hold });
  const held = (clinicId: string, phone: string): boolean => hold.has(clinicId, phone);
  // /metrics: the spool's depth (sms_spool_depth), replays (sms_spool_replayed_total: its rate is the replay rate),
  // the oldest entry's age and the held numbers.
  metrics.spoolSource.oldestReceivedAt = () => spool.oldestReceivedAt();
  metrics.spoolSource.heldNumbers = () => hold.size();
  const inFlight = createInFlight();
  const loopBusy = eventLoopBusy();
  // Events: the relay and dispatcher deliver what completions left in the outbox (docs/events.md).
  const storage = await openEventsStorage(backend);
  const events = new EventsService({ storage, store, clinics: () => live.snapshot().clinics.clinics, env, logger, registry: metrics.registry, ...options.events });
  // Background services: started in this order, stopped in reverse (Medplum's initAppServices / shutdownApp).
  const services: { start(): void; stop(): Promise<void> }[] = [{ start: () => events.start(), stop: () => events.stop(config.shutdownGraceMs) }];
  // The staff API: keys, conversations, access trail.
  if (keys.missing) {
    logger.warn({ keysFile: config.keysFile }, 'no staff API keys file: the staff API refuses every request (401)');
  }
  const ring = new KeyRing(keys.keys);
  const staffSessions = await openStaffSessionStore(backend, logger);
  const staffInit = initializeStore(
    { kind: store.kind, init: async () => Promise.all([staffStores.conversations.init(), staffStores.accessLog.init(), staffSessions.init()]).then(() => undefined) },
    logger,
  );
  if (staffFile.missing) {
    logger.warn({ staffFile: config.staffFile }, 'no staff file: every staff sign-in gets "no access"');
  }
  // The staff pages' sign-in and sessions.
  const staffAuth = createStaffAuth({ config, directory: staffFile.directory, sessionStore: staffSessions, accessLog: staffStores.accessLog, logger, signals: process, ...(options.staffClock ? { clock: options.staffClock } : {}) });
  // Failed key attempts are counted per client address in this instance's memory (src/auth/failed-key-attempts.ts),
  // one count for every route a key opens (the staff API and media).
  const attempts = new MemoryFailedKeyAttempts();
  // Media: background jobs fetch MediaUrlN; the route is guarded like the staff API.
  const media = await startMedia({
    config,
    env,
    backend,
    logger,
    clinic: (id) => live.snapshot().clinics.byId.get(id),
    ...(options.media?.pollMs === undefined ? {} : { pollMs: options.media.pollMs }),
    // The worker paces itself while this instance serves requests (one came within the last
    // 100 ms) or its event loop is more than half busy; with neither it fetches at full speed.
    busy: () => inFlight.activeWithin(SERVING_WINDOW_MS) || loopBusy(),
    registry: metrics.registry,
    guard: staffGuard({ accessLog: staffStores.accessLog, clock: () => new Date(), ring: () => ring, attempts }, MEDIA_ROUTE, 'conversations:read'),
    conversationOf: conversationOfMessage({ store, conversations: staffStores.conversations }),
  });
  services.push({ start: () => media.service.start(), stop: () => media.stop() });
  // Replies' StatusCallback: PUBLIC_BASE_URL (required in production), else the address this server listens on.
  let listening: string | null = null;
  const staff = createStaffApi({ config, live, store, stores: staffStores, ring, logger, attempts, media: media.service, callbackOrigin: () => config.publicBaseUrl ?? listening, held });
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
    requirePerson: staffAuth.requirePerson,
    requirePersonQuietly: staffAuth.requirePersonQuietly,
    streamCheck: sessionStreamCheck(staffAuth.sessions, production),
    staffOf: (clinicId) => staffAuth.staffFile.current().staffOf(clinicId).map((s) => ({ email: s.email, name: s.name ?? '' })),
  });
  services.push({ start: () => pages.hub.start(), stop: () => pages.hub.stop() });
  const app = createApp({
    config,
    live,
    store,
    staff: staffRouting,
    logger,
    metrics,
    readiness: createReadiness({
      store,
      live,
      metrics,
      spool,
      lifecycle: () => lifecycle,
      // The oldest pending event's age is shown, never a reason: with the database down it is unknown.
      checks: [
        { name: 'background jobs', check: () => ({ details: { backgroundJobs: background ? 'on' : 'off' } }) },
        // Started below, after the server listens: asked only once requests come.
        { name: 'keys file', check: () => keysReload.status() },
        { name: 'events', check: async () => ({ details: { eventsOldestPendingAgeSeconds: await events.oldestPendingAgeSeconds().then(Math.round, () => 'unknown') } }) },
      ],
    }),
    spool: spoolSink,
    held,
    inFlight,
    routers: [staff.router, ...media.routers, staffAuth.router, ...pages.routers],
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = createHttpServer(app.callback(), serverLimits(config)).listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  listening = listeningOrigin(address);
  logger.info(
    { pid: process.pid, address: typeof address === 'object' && address ? `${address.address}:${address.port}` : address, store: store.kind, clinics: snapshot.clinics.clinics.length, backgroundJobs: background ? 'on' : 'off' },
    'listening',
  );
  // Rules hot reload: watch RULES_DIR and CLINICS_FILE (WATCH_RULES), reload on SIGHUP.
  const rulesReload = startRulesReload({ config, env, live, logger, metrics }, { watch: config.watchRules, signals: process });
  const keysReload = startKeysReload({ file: config.keysFile, ring, logger, production, watch: config.watchRules, signals: process, registry: metrics.registry });
  // Replays what an earlier run left in the spool, and whatever the next outage brings.
  replayer.start();
  if (background) {
    services.forEach((s) => s.start());
  }
  pages.hub.start();
  const connections = trackConnections(server);
  lifecycle = 'serving';
  let stopping: Promise<ShutdownReport> | undefined;
  return {
    server,
    app,
    config,
    store,
    live,
    logger,
    metrics,
    spool,
    events,
    media,
    staffAuth,
    stop() {
      lifecycle = 'stopping';
      storeInit.stop();
      staffInit.stop();
      rulesReload.close();
      keysReload.close();
      staffAuth.close();
      // A reload that was running finishes (and logs) before the drain begins, so the shutdown's
      // lines come last and in order.
      stopping ??= rulesReload.settled().then(() => gracefulShutdown({ server, connections, inFlight, graceMs: config.shutdownGraceMs, store, logger, replayer, spool, services }));
      return stopping;
    },
  };
}

/**
 * Loads several files at once and reports every one's problems together (one CONFIG_INVALID
 * with all their findings), as start-up does for the clinics and rules.
 */
async function loadAll<T extends readonly unknown[]>(loads: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(loads);
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failed.length > 0) {
    if (failed.every(isAppError)) {
      throw new AppError('CONFIG_INVALID', 'invalid configuration files', { findings: failed.flatMap((e) => (e as AppError).findings) });
    }
    throw failed.find((e) => !isAppError(e));
  }
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Starts the service for a process: signals, exit codes, start-up errors on stderr. */
export async function runMain(env: Record<string, string | undefined>): Promise<void> {
  try {
    const service = await startService(env);
    const shutdown = (signal: string): void => {
      service.logger.info({ signal }, 'shutting down');
      service.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    if (isAppError(err)) {
      // With findings, the message's first line heads them (its rest, if any, repeats them).
      const text = err.findings.length > 0 ? `${err.message.split('\n')[0] ?? ''}\n${formatFindings(err.findings)}` : err.message;
      process.stderr.write(`clinic-sms: ${text}\n`);
    } else {
      process.stderr.write(`clinic-sms: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runMain(process.env);
}
