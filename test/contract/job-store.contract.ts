import { expect } from 'chai';
import type { Job, JobStore } from '../../src/jobs/job-store.js';

/** One feature's jobs for the contract: how to make one, and the results that settle or retry it. */
export interface JobKind<J extends Job, R> {
  /** A new job due at `due` (with `key` as the key a lease's exclude names, when the store has one). */
  job(due: Date, key?: string): J;
  /** A result that leaves no work. */
  done(job: J, at: Date): R;
  /** A result that tries again at `at`. */
  retryAt(job: J, at: Date): R;
  /** True when a lease's `exclude` names keys of this store's jobs (events: endpoints). */
  keyed: boolean;
}

export type MakeJobStore<J extends Job, R> = () => Promise<{ store: JobStore<J, R>; another(): JobStore<J, R>; dispose(): Promise<void> } | null>;

const T0 = new Date('2030-03-01T12:00:00Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

/**
 * The jobs kit's lease-and-token contract (src/jobs/job-store.ts), which every durable job
 * store has on both stores: events deliveries and media records, memory and MongoDB.
 * @param name - the feature and the store
 * @param kind - the feature's jobs
 * @param make - makes the store (initialised), a second instance on the same data, and its disposal; null skips
 */
export function describeJobStoreContract<J extends Job, R>(name: string, kind: JobKind<J, R>, make: MakeJobStore<J, R>): void {
  describe(`job store contract (lease and token): ${name}`, function () {
    let handle: Awaited<ReturnType<MakeJobStore<J, R>>> = null;
    let store: JobStore<J, R>;

    before(async function () {
      handle = await make();
      if (!handle) {
        this.skip();
      }
      store = handle.store;
    });

    after(async function () {
      await handle?.dispose();
    });

    /** Settles what earlier tests left due (leases are not by test), so each test sees only its own jobs. */
    beforeEach(async function () {
      for (;;) {
        const leased = await store.lease(new Date('2100-01-01T00:00:00Z'), 1);
        if (!leased) {
          return;
        }
        await store.finish(leased, kind.done(leased.job, T0));
      }
    });

    it('when the same jobs are added twice, then the second add reports none new and each is leased once', async function () {
      const a = kind.job(at(0));
      const b = kind.job(at(1));
      expect(await store.addJobs([a, b])).to.equal(2);
      expect(await store.addJobs([a, b])).to.equal(0);
      const first = await store.lease(at(10), 60_000);
      const second = await store.lease(at(10), 60_000);
      expect([first?.job.id, second?.job.id]).to.deep.equal([a.id, b.id]);
      expect(await store.lease(at(10), 60_000)).to.equal(null);
    });

    it('when jobs are due at different times, then a lease takes the soonest due first and leaves one not due yet', async function () {
      const late = kind.job(at(5_000));
      const soon = kind.job(at(1_000));
      const notYet = kind.job(at(60_000));
      await store.addJobs([late, notYet, soon]);
      const first = await store.lease(at(10_000), 60_000);
      expect(first?.job.id).to.equal(soon.id);
      expect(first?.job.lockedUntil).to.deep.equal(at(70_000));
      expect((await store.lease(at(10_000), 60_000))?.job.id).to.equal(late.id);
      expect(await store.lease(at(10_000), 60_000)).to.equal(null);
    });

    it('when a lease runs out, then another instance takes the job, and only the new holder\'s result is written', async function () {
      const job = kind.job(at(0));
      await store.addJobs([job]);
      const mine = await store.lease(at(1_000), 30_000);
      expect(mine?.job.id).to.equal(job.id);
      const other = handle?.another() as JobStore<J, R>;
      expect(await other.lease(at(20_000), 30_000)).to.equal(null);
      const theirs = await other.lease(at(31_000), 30_000);
      expect(theirs?.job.id).to.equal(job.id);
      expect(theirs?.token).to.not.equal(mine?.token);
      // The first holder comes back late: its result is refused, the new holder's kept.
      expect(await store.finish(mine!, kind.retryAt(mine!.job, at(40_000)))).to.equal(false);
      expect(await other.finish(theirs!, kind.done(theirs!.job, at(32_000)))).to.equal(true);
      expect(await store.lease(at(100_000), 30_000)).to.equal(null);
    });

    it('when a result retries later, then the job is leased again only from that time; a settled job never again', async function () {
      const job = kind.job(at(0));
      await store.addJobs([job]);
      const first = await store.lease(at(1_000), 30_000);
      expect(await store.finish(first!, kind.retryAt(first!.job, at(10_000)))).to.equal(true);
      // The lease is released with the result: only the retry time holds it back.
      expect(await store.lease(at(9_999), 30_000)).to.equal(null);
      const again = await store.lease(at(10_000), 30_000);
      expect(again?.job.id).to.equal(job.id);
      expect(again?.job.nextAttemptAt).to.deep.equal(at(10_000));
      expect(await store.finish(again!, kind.done(again!.job, at(10_500)))).to.equal(true);
      expect(await store.finish(again!, kind.done(again!.job, at(10_600)))).to.equal(false);
      expect(await store.lease(at(1_000_000), 30_000)).to.equal(null);
    });

    // Only stores whose leases exclude keys (events: endpoints) have this case.
    (kind.keyed ? it : (): void => undefined)('when keys are excluded, then their jobs are left for later and another key\'s job is leased', async function () {
      const busy = kind.job(at(0), 'busy-key');
      const free = kind.job(at(1_000), 'free-key');
      await store.addJobs([busy, free]);
      expect((await store.lease(at(2_000), 30_000, ['busy-key']))?.job.id).to.equal(free.id);
      expect(await store.lease(at(2_000), 30_000, ['busy-key'])).to.equal(null);
      expect((await store.lease(at(2_000), 30_000))?.job.id).to.equal(busy.id);
    });
  });
}
