import { errorCode } from '../errors.js';
import type { FieldLogger } from '../logger.js';
import { eachInTurn, PollLoop } from './poll-loop.js';

/** What a feature's relay takes from its caller. */
export interface RelayTiming {
  logger: Pick<FieldLogger, 'warn'>;
  clock?: () => Date;
  /** Sleep between empty rounds, ms. Default 1000. */
  pollMs?: number;
  /** Records a round reads. */
  batch?: number;
  /** Records of a batch relayed side by side (default 8). */
  concurrency?: number;
  /** Called after jobs were added (wakes the worker). */
  onQueued?: () => void;
}

export interface RelayOptions<T> extends RelayTiming {
  /** Names the relay in its log line ('events', 'media'). */
  name: string;
  /** Up to `limit` flagged records, oldest first. */
  pending(limit: number): Promise<T[]>;
  /** Makes the jobs of one record; resolves to how many were new (deterministic ids: a copy after a crash adds none). */
  toJobs(item: T): Promise<number>;
  /** Clears the record's flag: its jobs exist now. */
  clear(item: T): Promise<void>;
}

/**
 * One relay for every kind of background job (jobs kit): flagged records -> jobs -> clear
 * the flag. Jobs first, clear after: a crash between the two makes the same jobs again,
 * and their deterministic ids turn that into no-ops. The event loop turns between two
 * records of a lane (eachInTurn), so the webhook is never held up by a backlog. A batch
 * runs in `concurrency` lanes: one record costs two database round trips, and one at a
 * time the relay ran only as fast as the database answers them (on MongoDB behind a loaded
 * machine, a few records a second; docs/benchmarks.md).
 */
export class Relay<T> {
  private readonly loop: PollLoop;

  constructor(private readonly options: RelayOptions<T>) {
    this.loop = new PollLoop(() => this.runOnce().then((n) => n > 0), options.pollMs ?? 1000, (err) => {
      options.logger.warn({ code: errorCode(err) }, `${options.name}: relay round failed; retrying`);
    });
  }

  start(): void {
    this.loop.start();
  }

  /** New flagged records: relay them now (the relay also polls). */
  notify(): void {
    this.loop.notify();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Relays one batch; returns how many records it took. */
  async runOnce(): Promise<number> {
    const pending = await this.options.pending(this.options.batch ?? 100);
    let added = 0;
    const lanes = Math.max(1, Math.min(this.options.concurrency ?? 8, pending.length));
    await Promise.all(
      Array.from({ length: lanes }, (_, lane) =>
        eachInTurn(
          pending.filter((_, i) => i % lanes === lane),
          async (item) => {
            added += await this.options.toJobs(item);
            await this.options.clear(item);
          },
        ),
      ),
    );
    if (added > 0) {
      this.options.onQueued?.();
    }
    return pending.length;
  }
}
