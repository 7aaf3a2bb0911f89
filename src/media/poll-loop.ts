/**
 * A background loop: runs `step` until it reports no more work, then sleeps `pollMs`
 * (or until notify()). A failed step (the database is down) is reported and the loop
 * sleeps and goes on. The same shape as the events dispatcher's loop.
 */
export class PollLoop {
  private running = false;
  private poked = false;
  private wake: (() => void) | null = null;
  private done: Promise<void> = Promise.resolve();

  /**
   * @param step - one unit of work; resolves true when there may be more right away
   * @param pollMs - the sleep between empty rounds
   * @param onError - told of a failed step
   */
  constructor(
    private readonly step: () => Promise<boolean>,
    private readonly pollMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (!this.running) {
      this.running = true;
      this.done = this.loop();
    }
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
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollMs);
          this.wake = (): void => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }
}
