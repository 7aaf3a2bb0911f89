import { performance } from 'node:perf_hooks';
import type { InboundMessage } from '../domain.js';
import { errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { maskPhone } from '../phone.js';
import { PollLoop } from '../jobs/poll-loop.js';
import type { Store } from '../store/store.js';
import type { Spool } from './spool.js';
import type { SpoolEntry } from './spool-entry.js';

/**
 * Runs one spooled message through the message pipeline in replay mode (rules and actions
 * run with the rules live now, no reply is sent) and resolves to the record's status.
 */
export type ReplayHandler = (message: InboundMessage, receivedAt: Date) => Promise<{ status: string }>;

export interface ReplayerOptions {
  spool: Spool;
  /** The store the replays write to: pinged before a pass, and init()ed once before the first replay. */
  store: Pick<Store, 'ping' | 'init'>;
  replay: ReplayHandler;
  logger: Logger;
  metrics: Pick<Metrics, 'spoolReplayed'>;
  /** First wait after a failed attempt, ms. */
  minDelayMs?: number;
  /** Longest wait between attempts while the store is down, ms. */
  maxDelayMs?: number;
  /** Senders replayed side by side (each one's entries in order); default 8. */
  concurrency?: number;
}

export interface ReplayReport {
  /** Entries found in the spool at the start of the pass. */
  found: number;
  /** Entries whose record is stored and that left the spool. */
  replayed: number;
  /** Entries that failed for another reason than an unreachable store (kept, retried later). */
  failed: number;
  /** Entries still in the spool after the pass. */
  left: number;
  /** True when the store did not answer: before the pass (it never started), or for some replays (their senders' entries wait). */
  storeDown: boolean;
  ms: number;
}

export interface ReplayOptions {
  /** Stop starting new entries after this time (performance.now() clock). */
  deadline?: number;
}

const isUnavailable = (err: unknown): boolean => errorCode(err) === 'STORE_UNAVAILABLE';
const codeOf = (err: unknown): string => String(errorCode(err) ?? 'INTERNAL');

/**
 * Replays the outage spool through the pipeline once the store answers again: on the jobs
 * kit's poll loop, it pings the store with exponential backoff while the spool holds
 * anything, runs init() once before its first replay, then hands each entry to the replay handler (the pipeline in
 * 'replay' mode: rules and actions run, no reply is sent, idempotent by MessageSid) and removes an entry only after
 * its record is stored. Entries of one sender stay in order: after a failure the sender's
 * later entries wait for the next pass. Up to `concurrency` senders replay side by side: a
 * message's commands run one after the other, so one message at a time replays only as fast
 * as the database answers a message (on MongoDB behind a loaded machine, about one a second
 * per instance: a spool of 1,000 took minutes; docs/benchmarks.md).
 */
export class SpoolReplayer {
  private readonly spool: Spool;
  private readonly store: ReplayerOptions['store'];
  private readonly replay: ReplayHandler;
  private readonly metrics: ReplayerOptions['metrics'];
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly concurrency: number;
  private readonly log: Logger;
  private stopped = false;
  private exclusive: Promise<unknown> = Promise.resolve();
  /** Until the first init() that succeeds: the store's indexes, made once (see pass()). */
  private needsInit = true;
  /** The jobs kit's poll loop: a pass while the spool holds anything, then a sleep of `sleepMs` (null: until notify()). */
  private readonly loop: PollLoop;
  private delay: number;
  private sleepMs: number | null = null;

  constructor(options: ReplayerOptions) {
    this.spool = options.spool;
    this.store = options.store;
    this.replay = options.replay;
    this.metrics = options.metrics;
    this.minDelayMs = options.minDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.log = options.logger.child({ component: 'spool-replayer' });
    this.delay = this.minDelayMs;
    this.loop = new PollLoop(
      () => this.round(),
      () => this.sleepMs,
      (err) => this.log.error({ code: codeOf(err) }, 'spool replay round failed; retrying'),
    );
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    if (!this.stopped) {
      this.loop.start();
    }
  }

  /** Something was spooled: make sure the loop is awake. */
  notify(): void {
    this.loop.notify();
  }

  /** Stops the loop after the entry in hand; resolves when it has. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
  }

  /**
   * One pass over the spool, now (the loop, `clinic-sms spool replay`, shutdown's flush).
   * Passes never overlap.
   * @param options - an optional deadline for starting entries
   */
  replayNow(options: ReplayOptions = {}): Promise<ReplayReport> {
    const next = this.exclusive.then(() => this.pass(options));
    this.exclusive = next.catch(() => undefined);
    return next;
  }

  /**
   * One round of the loop: a pass while the spool holds anything. Sets how long the loop
   * sleeps after it: until notified when the spool is empty, shortly while the database is
   * slow (some replays went through), and doubling from minDelayMs to maxDelayMs while it is down.
   * @returns true when the next pass may start at once
   */
  private async round(): Promise<boolean> {
    if (this.spool.depth() === 0) {
      this.delay = this.minDelayMs;
      this.sleepMs = null;
      return false;
    }
    const report = await this.replayNow({ deadline: Number.POSITIVE_INFINITY });
    if (report.left === 0 || (report.replayed > 0 && report.failed === 0)) {
      this.delay = this.minDelayMs;
      this.sleepMs = report.left === 0 ? null : this.minDelayMs;
      return report.left > 0 && !report.storeDown;
    }
    this.sleepMs = this.delay;
    this.delay = Math.min(this.delay * 2, this.maxDelayMs);
    return false;
  }

  private async pass(options: ReplayOptions): Promise<ReplayReport> {
    const started = performance.now();
    const fromLoop = options.deadline === Number.POSITIVE_INFINITY;
    const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
    const report: ReplayReport = { found: 0, replayed: 0, failed: 0, left: this.spool.depth(), storeDown: false, ms: 0 };
    const finish = (): ReplayReport => {
      report.left = this.spool.depth();
      report.ms = Math.round(performance.now() - started);
      if (report.found > 0) {
        this.log.info({ found: report.found, replayed: report.replayed, failed: report.failed, left: report.left, storeDown: report.storeDown, ms: report.ms }, 'spool replay pass');
      }
      return report;
    };
    try {
      await this.store.ping();
      // The indexes (the unique MessageSid above all, which makes a replay idempotent) once,
      // before the first replay: the start's lifecycle makes them too, retried until the
      // database answers, and a database that comes back from an outage still has them. Not
      // again after each unavailable store: on a saturated database that was 8 createIndexes a
      // pass, making it slower still.
      if (this.needsInit) {
        await this.store.init();
        this.needsInit = false;
      }
    } catch (err) {
      report.storeDown = true;
      if (!isUnavailable(err)) {
        this.log.error({ code: codeOf(err) }, 'store check before replay failed');
      }
      return finish();
    }
    const entries = await this.spool.list();
    report.found = entries.length;
    // One lane a sender, its entries in the spool's order; lanes run `concurrency` at a time.
    const lanes = new Map<string, SpoolEntry[]>();
    for (const entry of entries) {
      const sender = `${entry.message.to}\u0000${entry.message.from}`;
      const lane = lanes.get(sender);
      if (lane) {
        lane.push(entry);
      } else {
        lanes.set(sender, [entry]);
      }
    }
    const waiting = [...lanes.values()];
    // A replay that finds the store unavailable stops its lane; the pass stops when as many
    // in a row did as lanes run (the database is down, not just slow under load).
    let unavailableInARow = 0;
    const halted = (): boolean => unavailableInARow >= this.concurrency || (fromLoop && this.stopped) || performance.now() > deadline;
    const runLanes = async (): Promise<void> => {
      for (let lane = waiting.shift(); lane && !halted(); lane = waiting.shift()) {
        for (const entry of lane) {
          if (halted()) {
            return;
          }
          try {
            const result = await this.replay(entry.message, entry.receivedAt);
            await this.spool.remove(entry.id);
            unavailableInARow = 0;
            report.replayed += 1;
            this.metrics.spoolReplayed.inc({ result: result.status });
          } catch (err) {
            if (isUnavailable(err)) {
              unavailableInARow += 1;
              report.storeDown = true;
              break;
            }
            // The sender's later entries wait for the next pass.
            report.failed += 1;
            this.metrics.spoolReplayed.inc({ result: 'failed' });
            this.log.error({ spoolId: entry.id, sender: maskPhone(entry.message.from), code: codeOf(err) }, 'spooled message could not be replayed; kept for the next pass');
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, waiting.length) }, runLanes));
    return finish();
  }
}
