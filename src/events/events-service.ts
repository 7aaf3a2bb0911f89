import type { Clinic } from '../domain.js';
import type { FieldLogger } from '../logger.js';
import { EventDispatcher } from './dispatcher.js';
import { resolveEndpoints, type EventEndpoint } from '../config/event-endpoints.js';
import { createEventMetrics, recordStats, type EventMetrics } from './event-metrics.js';
import type { EventOutboxStore } from './outbox-store.js';
import { outboxRelay } from './relay.js';
import type { Relay } from '../jobs/relay.js';
import type { PendingOutbox, Store } from '../store/store.js';
import type { Registry } from 'prom-client';

export interface EventsServiceOptions {
  /** Where deliveries live (openEventsStorage). */
  storage: EventOutboxStore;
  /** The messages' store: where completions leave their outboxes. */
  store: Pick<Store, 'kind' | 'pendingOutboxes' | 'clearOutbox'>;
  /** The clinics live now (they reload). */
  clinics: () => readonly Clinic[];
  env: Record<string, string | undefined>;
  logger: Pick<FieldLogger, 'info' | 'warn' | 'error'>;
  registry: Registry;
  /** Tests shorten these. */
  pollMs?: number;
  timeoutMs?: number;
  leaseMs?: number;
  retryDelaysMs?: readonly number[];
  /** How long a stats read is reused (metrics, readiness), ms. */
  statsMaxAgeMs?: number;
}

/** How often the relay looks for pending outboxes on the embedded store, ms. */
export const EMBEDDED_RELAY_POLL_MS = 20;

/**
 * The relay and the dispatcher of one service instance, and the stats behind the
 * events metrics and /readyz. Nothing here is on the webhook's path: the relay and the
 * dispatcher are background loops, and the webhook only writes the outbox in its
 * completion.
 */
export class EventsService {
  readonly metrics: EventMetrics;
  private readonly relay: Relay<PendingOutbox>;
  private readonly dispatcher: EventDispatcher;
  private cachedStats: { at: number; oldestPendingAgeS: number } | null = null;

  constructor(private readonly options: EventsServiceOptions) {
    this.metrics = createEventMetrics(options.registry, () => this.oldestPendingAgeSeconds());
    const endpoints = (): EventEndpoint[] => options.clinics().flatMap((c) => resolveEndpoints(c, options.env));
    this.dispatcher = new EventDispatcher({
      store: options.storage,
      endpoint: (id) => endpoints().find((e) => e.id === id),
      logger: options.logger,
      metrics: this.metrics,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.retryDelaysMs === undefined ? {} : { retryDelaysMs: options.retryDelaysMs }),
    });
    this.relay = outboxRelay({
      source: options.store,
      store: options.storage,
      endpointsFor: (clinicId) => endpoints().filter((e) => e.clinicId === clinicId),
      logger: options.logger,
      // On the embedded store a look at the pending outboxes is a Map read: the relay looks
      // often, so an event leaves within milliseconds of the reply, as on a wake-up.
      pollMs: options.pollMs ?? (options.store.kind === 'memory' ? EMBEDDED_RELAY_POLL_MS : 1000),
      onQueued: () => this.dispatcher.notify(),
    });
  }

  /** Creates the indexes (the runner retries it while the database is down; the loops work without them, only slower). */
  async init(): Promise<void> {
    await this.options.storage.init();
  }

  start(): void {
    this.relay.start();
    this.dispatcher.start();
  }

  /** A message was completed with events (wakes the relay; MongoDB's relay also finds them by polling). */
  notify(): void {
    this.relay.notify();
  }

  /**
   * Stops the relay, then lets the attempts in flight finish for up to `graceMs`; the
   * ones still running then are dropped unwritten, and their leases run out so that
   * another instance (or the next start) delivers them.
   */
  async stop(graceMs = 5000): Promise<void> {
    await this.relay.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.dispatcher.stop(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.dispatcher.kill();
  }

  /** Test hook: stop as a crashed process would (no attempt written back). */
  async kill(): Promise<void> {
    await this.relay.stop();
    await this.dispatcher.kill();
  }

  /**
   * Refreshes the events gauges and returns the oldest pending delivery's age in
   * seconds (0: none), reusing a recent read.
   */
  async oldestPendingAgeSeconds(): Promise<number> {
    const now = Date.now();
    if (this.cachedStats && now - this.cachedStats.at < (this.options.statsMaxAgeMs ?? 10_000)) {
      return this.cachedStats.oldestPendingAgeS;
    }
    const stats = await this.options.storage.stats();
    recordStats(this.metrics, stats, new Date(now));
    const age = stats.oldestPendingAt ? Math.max(0, (now - stats.oldestPendingAt.getTime()) / 1000) : 0;
    this.cachedStats = { at: now, oldestPendingAgeS: age };
    return age;
  }
}
