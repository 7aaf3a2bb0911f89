const SHARDS = 256;

/**
 * A Map split into 256 smaller ones by a hash of the key. V8 grows a Map by rehashing every
 * entry at once, inside the set() that crosses its capacity: at a few hundred thousand
 * entries that one call blocks the event loop for tens of milliseconds (86 ms measured at
 * 400,000). The embedded store adds an entry per message for as long as it runs; split,
 * each growth touches 1/256 of the entries. Iteration order is by shard, not by insertion.
 */
export class ShardedMap<V> {
  private readonly shards: Array<Map<string, V>> = Array.from({ length: SHARDS }, () => new Map<string, V>());

  private shard(key: string): Map<string, V> {
    let h = 0;
    for (let i = Math.max(0, key.length - 8); i < key.length; i += 1) {
      h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
    }
    return this.shards[(h ^ (h >>> 8)) & (SHARDS - 1)] as Map<string, V>;
  }

  get(key: string): V | undefined {
    return this.shard(key).get(key);
  }

  has(key: string): boolean {
    return this.shard(key).has(key);
  }

  set(key: string, value: V): this {
    this.shard(key).set(key, value);
    return this;
  }

  delete(key: string): boolean {
    return this.shard(key).delete(key);
  }

  /** How many shards (for sweepShard). */
  get shardCount(): number {
    return SHARDS;
  }

  /**
   * Deletes the entries of one shard that `stale` picks: a sweep a little at a time.
   * @param index - the shard, 0 to shardCount - 1
   * @param stale - true for an entry to delete
   */
  sweepShard(index: number, stale: (value: V) => boolean): void {
    const shard = this.shards[index];
    if (shard) {
      for (const [key, value] of shard) {
        if (stale(value)) {
          shard.delete(key);
        }
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const m of this.shards) {
      n += m.size;
    }
    return n;
  }

  *keys(): IterableIterator<string> {
    for (const m of this.shards) {
      yield* m.keys();
    }
  }

  *values(): IterableIterator<V> {
    for (const m of this.shards) {
      yield* m.values();
    }
  }
}
