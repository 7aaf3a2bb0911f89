/**
 * Keys in the order they were added, at most `capacity` of them: adding one more hands back
 * the oldest, for its owner to drop. What bounds the embedded store's memory.
 */
export class RetentionRing {
  /** Grows by push until full (a packed array: `new Array(n)` of a large n would be a slow dictionary). */
  private readonly keys: string[] = [];
  private next = 0;

  /**
   * @param capacity - how many keys are kept (a whole number of at least 1)
   */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a whole number of at least 1, got ${capacity}`);
    }
  }

  /**
   * Adds `key`; returns the key it pushed out when the ring was full.
   * @param key - the newest key
   */
  add(key: string): string | undefined {
    if (this.keys.length < this.capacity) {
      this.keys.push(key);
      return undefined;
    }
    const oldest = this.keys[this.next];
    this.keys[this.next] = key;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    return oldest;
  }
}
