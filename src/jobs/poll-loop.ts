import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Runs `handle` on each item in order, letting the event loop turn between two. Background
 * work shares the process with the webhook: on a store that answers without I/O (the
 * embedded one) a whole batch would otherwise run as one turn, ahead of waiting requests.
 * @param items - a batch
 * @param handle - the work of one item
 */
export async function eachInTurn<T>(items: readonly T[], handle: (item: T) => Promise<void>): Promise<void> {
  for (const [i, item] of items.entries()) {
    if (i > 0) {
      await nextTurn();
    }
    await handle(item);
  }
}

/**
 * A background loop: runs `step` until it reports no work, then sleeps `pollMs` or until
 * notify(). Between two steps it always lets the event loop turn, so a store that answers
 * without I/O (the embedded one) cannot make a busy loop starve the webhook.
 */
export class PollLoop {
  private running = false;
  /** A notify() that came while a step ran: the loop goes round again instead of sleeping. */
  private poked = false;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private done: Promise<void> = Promise.resolve();

  /**
   * @param step - one unit of work; resolves true when there may be more right away
   * @param pollMs - the sleep between empty rounds; or asked after each round (null: until notify(); the spool replayer's backoff)
   * @param onError - a failed step (e.g. the database is down); the loop sleeps and goes on
   */
  constructor(
    private readonly step: () => Promise<boolean>,
    private readonly pollMs: number | (() => number | null),
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.done = this.loop();
  }

  /** Wakes a sleeping loop at once (new work arrived). */
  notify(): void {
    this.poked = true;
    this.wake?.();
  }

  /** Stops after the step in progress; resolves when it has. */
  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await this.done;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let more = false;
      this.poked = false;
      try {
        more = await this.step();
      } catch (err) {
        this.onError(err);
      }
      if (this.running && !more && !this.poked) {
        const ms = typeof this.pollMs === 'number' ? this.pollMs : this.pollMs();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = ms === null ? null : setTimeout(resolve, ms);
        });
        if (this.timer) {
          clearTimeout(this.timer);
        }
        this.wake = null;
        this.timer = null;
      } else {
        await nextTurn();
      }
    }
  }
}

/** Several PollLoops on one step (workers of one instance), started, woken and stopped together. */
export class PollLoops {
  private readonly loops: PollLoop[];
  private readonly abort = new AbortController();
  /** Aborted by kill(): work in flight drops its requests, and a step that sees it writes nothing back. */
  readonly signal: AbortSignal = this.abort.signal;

  /**
   * @param count - how many loops run the step at once
   * @param step - one unit of work; resolves true when there may be more right away
   * @param pollMs - the sleep between empty rounds
   * @param onError - a failed step; the loop sleeps and goes on
   */
  constructor(count: number, step: () => Promise<boolean>, pollMs: number, onError: (err: unknown) => void) {
    this.loops = Array.from({ length: count }, () => new PollLoop(step, pollMs, onError));
  }

  start(): void {
    this.loops.forEach((l) => l.start());
  }

  notify(): void {
    this.loops.forEach((l) => l.notify());
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }

  /** Stops as a crashed process would (tests): `signal` aborts, then the loops stop. */
  async kill(): Promise<void> {
    this.abort.abort();
    await this.stop();
  }
}
