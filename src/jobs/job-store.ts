/**
 * The lease-and-token design of the jobs kit, one interface for every durable job store
 * (events deliveries, media records), each implemented for both stores: MemoryJobs here for
 * the embedded store, MongoJobs (src/store/mongo-jobs.ts) for MongoDB. A job is a record in
 * the store, so it survives a restart; a lease (lockedUntil + a random token) lets any number
 * of instances share the work: a result is written only while its token still holds, so an
 * instance whose lease ran out (and was taken by another) writes nothing.
 * Contract: test/contract/job-store.contract.ts, run on both stores for events and media.
 */

/** What every job carries: its id, when it is due, and until when a lease holds it (the epoch: nobody). */
export interface Job {
  id: string;
  nextAttemptAt: Date;
  lockedUntil: Date;
}

/** A job this instance holds until `job.lockedUntil`. */
export interface Leased<J> {
  job: J;
  /** Proves the lease when the result is written: a lease that expired and was taken by another no longer matches. */
  token: string;
}

/** The job part of a feature's store. */
export interface JobStore<J extends Job, R> {
  /** Inserts the jobs not there yet (by id); returns how many were new (a relay may add the same again). */
  addJobs(jobs: readonly J[]): Promise<number>;
  /**
   * Takes one due job (due by the feature's rule, nextAttemptAt and lockedUntil at or before
   * `now`), the soonest due first, in one atomic step, and holds it until `now + leaseMs`.
   * @param exclude - keys this instance is busy with (events: endpoints), left out
   */
  lease(now: Date, leaseMs: number, exclude?: readonly string[]): Promise<Leased<J> | null>;
  /** Writes an attempt's result and releases the lease, if it still holds; false when it was lost. */
  finish(leased: Leased<J>, result: R): Promise<boolean>;
}

interface DueKey {
  at: number;
  id: string;
}

const before = (a: DueKey, b: DueKey): boolean => a.at < b.at || (a.at === b.at && a.id < b.id);

/**
 * The embedded store's jobs: a Map of copies (like the Store's memory adapter) and an index
 * of the due ones by time, so a lease looks at the soonest first.
 */
export class MemoryJobs<J extends Job> {
  private readonly entries = new Map<string, { job: J; token: string | null }>();
  private readonly due: DueKey[] = [];

  /**
   * @param options.isDue - whether a job still has work (events: pending; media: work left)
   * @param options.keyOf - the key a lease's `exclude` names (events: the endpoint)
   */
  constructor(private readonly options: { isDue(job: J): boolean; keyOf?(job: J): string }) {}

  get size(): number {
    return this.entries.size;
  }

  /** How many jobs have work left, leased or not. */
  get dueCount(): number {
    return this.due.length;
  }

  /** Inserts the jobs not there yet; returns how many were new. */
  add(jobs: readonly J[]): number {
    let added = 0;
    for (const job of jobs) {
      if (!this.entries.has(job.id)) {
        this.entries.set(job.id, { job: structuredClone(job), token: null });
        this.index(job);
        added += 1;
      }
    }
    return added;
  }

  lease(now: Date, leaseMs: number, exclude: readonly string[] = []): Leased<J> | null {
    // Past the jobs under a lease (a few: one per job in flight) and the excluded keys, the first one is the soonest due.
    for (const { at, id } of this.due) {
      if (at > now.getTime()) {
        return null;
      }
      const entry = this.entries.get(id);
      if (!entry || entry.job.lockedUntil > now || (this.options.keyOf && exclude.includes(this.options.keyOf(entry.job)))) {
        continue;
      }
      entry.token = crypto.randomUUID();
      entry.job.lockedUntil = new Date(now.getTime() + leaseMs);
      return { job: structuredClone(entry.job), token: entry.token };
    }
    return null;
  }

  /** Replaces a leased job with `next` (the result applied, the lease released) if the lease still holds. */
  finish(leased: Leased<J>, next: J): boolean {
    const entry = this.entries.get(leased.job.id);
    if (!entry || entry.token !== leased.token) {
      return false;
    }
    this.replace(next);
    return true;
  }

  /**
   * Replaces a job (a requeue, a failed endpoint): ending any lease on it, or keeping it
   * (`keepLease`: the job's worker may still write its result).
   */
  replace(next: J, options: { keepLease?: boolean } = {}): void {
    const entry = this.entries.get(next.id);
    if (entry) {
      this.unindex(entry.job);
    }
    const token = options.keepLease === true ? (entry?.token ?? null) : null;
    this.entries.set(next.id, { job: structuredClone(next), token });
    this.index(next);
  }

  delete(id: string): J | undefined {
    const entry = this.entries.get(id);
    if (entry) {
      this.unindex(entry.job);
      this.entries.delete(id);
    }
    return entry?.job;
  }

  /** The stored job (not a copy: read only). */
  peek(id: string): J | undefined {
    return this.entries.get(id)?.job;
  }

  /** The stored jobs (not copies: read only). */
  *values(): IterableIterator<J> {
    for (const entry of this.entries.values()) {
      yield entry.job;
    }
  }

  private position(key: DueKey): number {
    let lo = 0;
    let hi = this.due.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.due[mid] as DueKey, key)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private index(job: J): void {
    if (this.options.isDue(job)) {
      const key = { at: job.nextAttemptAt.getTime(), id: job.id };
      this.due.splice(this.position(key), 0, key);
    }
  }

  private unindex(job: J): void {
    const at = this.position({ at: job.nextAttemptAt.getTime(), id: job.id });
    if (this.due[at]?.id === job.id) {
      this.due.splice(at, 1);
    }
  }
}
