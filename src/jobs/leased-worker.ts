import { errorCode } from '../errors.js';
import type { FieldLogger } from '../logger.js';
import { PollLoops } from './poll-loop.js';

/** What a feature's worker takes from its caller (tests shorten the times). */
export interface LeasedWorkerTiming {
  clock?: () => Date;
  /** Jobs in flight at once. */
  concurrency?: number;
  /** One attempt's limit (a request, a download), ms. */
  timeoutMs?: number;
  /** How long a lease holds; must outlast an attempt. */
  leaseMs?: number;
  /** Sleep between empty rounds, ms. Default 1000. */
  pollMs?: number;
  /** The retry schedule. */
  retryDelaysMs?: readonly number[];
  random?: () => number;
}

export interface LeasedWorkerOptions extends LeasedWorkerTiming {
  /** Names the worker in its log line ('events: dispatch', 'media: job'). */
  name: string;
  logger: Pick<FieldLogger, 'warn'>;
  /** The feature's defaults: jobs in flight, an attempt's limit, the lease past it, the retry schedule. */
  defaults: { concurrency: number; timeoutMs: number; leaseMarginMs: number; retryDelaysMs: readonly number[] };
}

/**
 * The leased worker of the jobs kit: `concurrency` loops, each leasing one due job and
 * doing it (a feature's worker extends it with its lease and its work). Leases are taken one at a time, so the keys in use are current for each.
 * stop() lets the jobs in flight finish; kill() drops them as a crashed process would
 * (`signal` aborts, nothing is written back, the leases run out and another takes them).
 */
export abstract class LeasedWorker<L> {
  private readonly loops: PollLoops;
  /** The keys of the jobs this instance is doing (keyOf). */
  private readonly inUse = new Set<string>();
  private leasing: Promise<unknown> = Promise.resolve();
  protected readonly clock: () => Date;
  /** One attempt's limit, ms. */
  protected readonly timeoutMs: number;
  /** How long a lease holds, ms (more than timeoutMs). */
  protected readonly leaseMs: number;
  /** The retry schedule. */
  protected readonly delays: readonly number[];
  protected readonly random: () => number;
  private readonly name: string;
  private readonly logger: Pick<FieldLogger, 'warn'>;

  /**
   * Takes one due job under a lease (one atomic findOneAndUpdate on MongoDB, so instances
   * can share a database), skipping the keys in `exclude`; null when none is due.
   */
  protected abstract leaseNext(exclude: readonly string[]): Promise<L | null>;
  /** Does the job and writes its result under the lease token (done / retry at / failed). */
  protected abstract work(leased: L): Promise<void>;

  /** Per-key exclusion: one job a key at a time on this instance (events: one request per endpoint); none by default. */
  protected keyOf(_leased: L): string | undefined {
    return undefined;
  }

  /** Pacing: awaited before each lease (media: a pause while the instance serves requests); none by default. */
  protected async pace(): Promise<void> {}

  constructor(options: LeasedWorkerOptions) {
    const onError = (err: unknown): void => {
      options.logger.warn({ code: errorCode(err) }, `${options.name} round failed; retrying`);
    };
    this.loops = new PollLoops(options.concurrency ?? options.defaults.concurrency, () => this.step(), options.pollMs ?? 1000, onError);
    this.clock = options.clock ?? ((): Date => new Date());
    this.timeoutMs = options.timeoutMs ?? options.defaults.timeoutMs;
    this.leaseMs = options.leaseMs ?? this.timeoutMs + options.defaults.leaseMarginMs;
    if (this.leaseMs <= this.timeoutMs) {
      // A lease that ends before the attempt would let a second instance take the job in flight.
      throw new Error(`${options.name}: the lease must outlast the attempt's timeout`);
    }
    this.delays = options.retryDelaysMs ?? options.defaults.retryDelaysMs;
    this.random = options.random ?? Math.random;
    this.name = options.name;
    this.logger = options.logger;
  }

  /**
   * Waits for a result written under the lease token; when the lease was lost (it ran out and
   * another instance took the job), says so: that instance owns the job now.
   * @param write - the store's finish()
   * @param fields - what names the job in the log line (no PHI)
   */
  protected async written(write: Promise<boolean>, fields: Record<string, unknown>): Promise<boolean> {
    const kept = await write;
    if (!kept) {
      this.logger.warn(fields, `${this.name}: the lease ran out before the job ended; another instance owns it now`);
    }
    return kept;
  }

  /** Aborted by kill(): work in flight drops its requests and writes nothing back. */
  get signal(): AbortSignal {
    return this.loops.signal;
  }

  start(): void {
    this.loops.start();
  }

  /** New jobs are due: wake the loops. */
  notify(): void {
    this.loops.notify();
  }

  /** Finishes the jobs in flight and stops. */
  async stop(): Promise<void> {
    await this.loops.stop();
  }

  /** Stops as a crashed process would (tests). */
  async kill(): Promise<void> {
    await this.loops.kill();
  }

  /** One lease and its work; true when there was a job (there may be more). */
  async step(): Promise<boolean> {
    await this.pace();
    const leased = await this.lease();
    if (!leased) {
      return false;
    }
    const key = this.keyOf(leased);
    try {
      await this.work(leased);
    } finally {
      if (key !== undefined) {
        this.inUse.delete(key);
      }
    }
    return true;
  }

  private lease(): Promise<L | null> {
    const next = this.leasing.then(async () => {
      const leased = await this.leaseNext([...this.inUse]);
      const key = leased ? this.keyOf(leased) : undefined;
      if (key !== undefined) {
        this.inUse.add(key);
      }
      return leased;
    });
    this.leasing = next.catch(() => undefined);
    return next;
  }
}
