import { errorCode } from './errors.js';
import type { Logger } from './logger.js';

/** What one readiness check adds to /readyz. */
export interface ReadinessCheckResult {
  /** Entries for `details` (e.g. `{ eventsOldestPendingAgeSeconds }`). */
  details?: Record<string, unknown>;
  /** Degradations: reported, still 200. */
  degraded?: string[];
  /** Reasons this instance cannot keep a message: 503. Only for checks that mean exactly that. */
  unready?: string[];
}

/**
 * A feature's part of readiness (events outbox age, media jobs, ...). Runs on each /readyz;
 * a check that throws is reported as a degradation under its own name, never a 503.
 */
export interface ReadinessCheck {
  name: string;
  check(): Promise<ReadinessCheckResult> | ReadinessCheckResult;
}

/**
 * What /readyz answers. `ready` (200) while this instance can accept and keep a message:
 * the database answers, or the outage spool is writable. `degraded` says what is wrong
 * all the same; `reasons` says why it is not ready (503).
 */
export interface ReadinessReport {
  status: 'ok' | 'degraded' | 'unavailable';
  ready: boolean;
  /** Why it answers 503: it cannot keep a message now. Empty when ready. */
  reasons: string[];
  /** What is wrong while it still keeps every message. */
  degraded: string[];
  details: Record<string, unknown>;
}

/** Where the instance is in its life: only a serving one takes traffic. */
export type Lifecycle = 'starting' | 'serving' | 'stopping';

/**
 * One long-running part of the service (Medplum's init/close lists, Fastify's onClose):
 * the store, a feature's storage, the events and media jobs, the spool replayer, the HTTP
 * server, a file watcher. Every hook is optional.
 */
export interface Component {
  readonly name: string;
  /** A leased background job: started only where BACKGROUND_JOBS allows (its init too). */
  readonly background?: boolean;
  /**
   * Work that needs the database (indexes): run at start without holding it up, and
   * retried under one backoff (1 s doubling to 30 s) until the database answers.
   */
  init?(): Promise<void>;
  /** Starts the part (loops, watchers, listening). Runs in list order. */
  start?(): void | Promise<void>;
  /** Stops it, in reverse list order; `budgetMs` bounds what it may wait for (SHUTDOWN_GRACE_MS). */
  stop?(budgetMs: number): Promise<void>;
  /** Its part of /readyz. */
  ready?(): Promise<ReadinessCheckResult> | ReadinessCheckResult;
}

export interface RunnerOptions {
  logger: Pick<Logger, 'info' | 'warn'>;
  /** BACKGROUND_JOBS: false leaves out the background components. */
  background: boolean;
  /** The init backoff's first and longest wait, ms. */
  initDelayMs?: { first: number; max: number };
}

/**
 * Starts the components in order and stops them in reverse, one shape for every part.
 * Inits run beside the start (the service serves, and spools, while the database is down)
 * and are retried under one backoff; stop() ends the retries first, so nothing of the
 * start logs after the shutdown.
 */
/**
 * The readiness checks of the components (all of them: a background part's check reports
 * even where BACKGROUND_JOBS is off, e.g. the age of the oldest pending event).
 * @param components - the service's components
 */
export function readinessChecks(components: readonly Component[]): ReadinessCheck[] {
  return components.flatMap((c) => (c.ready ? [{ name: c.name, check: c.ready.bind(c) }] : []));
}

export class Runner {
  private readonly components: readonly Component[];
  private readonly pending = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The components started so far, in order: stop() stops these. */
  private readonly started: Component[] = [];
  private phase: Lifecycle = 'starting';

  /**
   * @param components - in start order
   * @param options - logger, BACKGROUND_JOBS, backoff
   */
  constructor(
    components: readonly Component[],
    private readonly options: RunnerOptions,
  ) {
    this.components = components.filter((c) => options.background || c.background !== true);
  }

  /** Starts every component in order (their inits run beside, retried until they succeed). */
  async start(): Promise<void> {
    for (const c of this.components) {
      if (this.phase === 'stopping') {
        return;
      }
      if (c.init) {
        this.initUntilDone(c, c.init.bind(c));
      }
      this.started.push(c);
      await c.start?.();
    }
    if (this.phase === 'starting') {
      this.phase = 'serving';
    }
  }

  /** Where the instance is: starting until every component started, serving, then stopping. */
  lifecycle(): Lifecycle {
    return this.phase;
  }

  /** True once every init succeeded. */
  initialized(): boolean {
    return this.pending.size === 0;
  }


  /**
   * Stops the init retries, then every started component in reverse order.
   * @param budgetMs - what each stop may wait for (SHUTDOWN_GRACE_MS)
   */
  async stop(budgetMs: number): Promise<void> {
    this.phase = 'stopping';
    this.timers.forEach((t) => clearTimeout(t));
    for (const c of this.started.splice(0).reverse()) {
      await c.stop?.(budgetMs);
    }
  }

  private initUntilDone(c: Component, init: () => Promise<void>): void {
    const { first, max } = this.options.initDelayMs ?? { first: 1000, max: 30_000 };
    let delay = first;
    this.pending.add(c.name);
    const attempt = (): void => {
      init().then(
        () => {
          this.pending.delete(c.name);
          // After stop() the service is shutting down: a late success would log out of order.
          if (this.phase !== 'stopping') {
            this.options.logger.info({ component: c.name }, `${c.name} ready: indexes in place`);
          }
        },
        (err: unknown) => {
          if (this.phase === 'stopping') {
            return;
          }
          this.options.logger.warn({ component: c.name, code: errorCode(err), retryInMs: delay }, `${c.name} not ready yet; will retry`);
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            attempt();
          }, delay);
          timer.unref();
          this.timers.add(timer);
          delay = Math.min(delay * 2, max);
        },
      );
    };
    attempt();
  }
}
