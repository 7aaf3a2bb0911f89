import { errorCode } from '../errors.js';
import type { FieldLogger } from '../logger.js';
import { eachInTurn, PollLoop } from './poll-loop.js';

export interface RelayOptions<T> {
  /** Names the relay in its log line ('events', 'media'). */
  name: string;
  /** Up to `limit` flagged records, oldest first. */
  pending(limit: number): Promise<T[]>;
  /** Makes the jobs of one record; resolves to how many were new (deterministic ids: a copy after a crash adds none). */
  toJobs(item: T): Promise<number>;
  /** Clears the record's flag: its jobs exist now. */
  clear(item: T): Promise<void>;
  logger: Pick<FieldLogger, 'warn'>;
  pollMs?: number;
  batch?: number;
  /** Called after jobs were added (wakes the worker). */
  onQueued?: () => void;
}

/**
 * One relay for every kind of background job (jobs kit): flagged records -> jobs -> clear
 * the flag. Jobs first, clear after: a crash between the two makes the same jobs again,
 * and their deterministic ids turn that into no-ops. The event loop turns between two
 * records of a batch (eachInTurn), so the webhook is never held up by a backlog.
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
    await eachInTurn(pending, async (item) => {
      added += await this.options.toJobs(item);
      await this.options.clear(item);
    });
    if (added > 0) {
      this.options.onQueued?.();
    }
    return pending.length;
  }
}
