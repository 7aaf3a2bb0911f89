import { expect } from 'chai';
import type { EventOutboxStore } from '../../src/events/outbox-store.js';
import { aDelivery, anEndpoint } from '../support/event-builders.js';
import { newClinicId } from './store-fixtures.js';

/**
 * What every EventOutboxStore adapter does (memory and MongoDB).
 * @param name - adapter name
 * @param make - a fresh store, or null when the adapter is not available here
 */
export function describeEventOutboxContract(name: string, make: () => Promise<{ store: EventOutboxStore; dispose(): Promise<void> } | null>): void {
  describe(`EventOutboxStore contract: ${name}`, function () {
    let store: EventOutboxStore;
    let dispose: (() => Promise<void>) | undefined;
    const now = new Date('2026-11-30T18:00:00Z');
    const later = (ms: number): Date => new Date(now.getTime() + ms);

    // A fresh store each test: leases are not scoped to a clinic.
    beforeEach(async function () {
      const made = await make();
      if (!made) {
        this.skip();
      }
      store = made.store;
      dispose = made.dispose;
      await store.init();
      await store.init();
    });

    afterEach(async function () {
      await dispose?.();
      dispose = undefined;
    });

    it('when the same deliveries are added twice, then they are stored once and the second add counts none', async function () {
      const clinicId = newClinicId();
      const d = aDelivery({ clinicId });
      expect(await store.addJobs([d])).to.equal(1);
      expect(await store.addJobs([d, d])).to.equal(0);
      expect(await store.find(d.eventId)).to.deep.equal([d]);
      expect(await store.find(d.id)).to.deep.equal([d]);
      // A relay copying an outbox again after a crash, part of it stored: the rest goes in once.
      const e = aDelivery({ clinicId });
      expect(await store.addJobs([d, e, e])).to.equal(1);
      expect(await store.find(e.id)).to.deep.equal([e]);
    });

    it('when two instances lease at once, then each due delivery goes to one of them, and a held one is not leased again until its lease runs out', async function () {
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId });
      const ds = [aDelivery({ clinicId }, endpoint), aDelivery({ clinicId }, endpoint)];
      await store.addJobs(ds);
      const mine = (l: { job: { clinicId: string } } | null): boolean => l !== null && l.job.clinicId === clinicId;
      const leases = (await Promise.all([1, 2, 3, 4].map(() => store.lease(now, 1000, [])))).filter(mine);
      expect(leases.map((l) => l!.job.id).sort()).to.deep.equal(ds.map((d) => d.id).sort());
      expect(mine(await store.lease(later(999), 1000, []))).to.equal(false);
      const again = await store.lease(later(1001), 1000, []);
      expect(mine(again)).to.equal(true);
      // The first lease ran out and was taken: its holder can no longer write.
      const first = leases.find((l) => l!.job.id === again!.job.id)!;
      expect(await store.finish(first, { status: 'delivered', attempts: 1, at: later(1002) })).to.equal(false);
      expect(await store.finish(again!, { status: 'delivered', attempts: 1, at: later(1002), lastStatus: 200 })).to.equal(true);
      const [stored] = await store.find(again!.job.id);
      expect(stored).to.include({ status: 'delivered', attempts: 1, lastStatus: 200 });
      expect(stored?.deliveredAt).to.deep.equal(later(1002));
      await Promise.all(leases.map((l) => store.finish(l!, { status: 'delivered', attempts: 1, at: now })));
    });

    it('when a delivery is not due yet or its endpoint is excluded, then it is not leased; the soonest due goes first', async function () {
      const clinicId = newClinicId();
      const a = anEndpoint({ clinicId });
      const b = anEndpoint({ clinicId });
      const early = { ...aDelivery({ clinicId }, a), nextAttemptAt: later(-5000) };
      const lateOne = { ...aDelivery({ clinicId }, a), nextAttemptAt: later(60_000) };
      const other = aDelivery({ clinicId }, b);
      await store.addJobs([other, lateOne, early]);
      const excluded: string[] = [];
      const got: string[] = [];
      for (;;) {
        const l = await store.lease(now, 1000, [b.id, ...excluded]);
        if (!l) {
          break;
        }
        if (l.job.clinicId === clinicId) {
          got.push(l.job.id);
        }
        await store.finish(l, { status: 'delivered', attempts: 1, at: now });
      }
      expect(got).to.deep.equal([early.id]);
      const l = await store.lease(now, 1000, []);
      expect(l?.job.id).to.equal(other.id);
      await store.finish(l!, { status: 'pending', attempts: 1, at: now, nextAttemptAt: later(5000), lastStatus: 500, lastError: 'HTTP 500' });
      const [retry] = await store.find(other.id);
      expect(retry).to.include({ status: 'pending', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' });
      expect(retry?.nextAttemptAt).to.deep.equal(later(5000));
      expect(retry?.lockedUntil).to.deep.equal(new Date(0));
    });

    it('when an endpoint is disabled, then its pending deliveries fail, it is listed as disabled, and a requeue of the failed ones makes them due again', async function () {
      const clinicId = newClinicId();
      const e = anEndpoint({ clinicId });
      const ds = [aDelivery({ clinicId, type: 'consent.opted_out' }, e), aDelivery({ clinicId }, e)];
      await store.addJobs(ds);
      expect(await store.disableEndpoint(e.id, now, 'endpoint disabled (410 Gone)')).to.equal(2);
      expect((await store.disabledEndpoints()).has(e.id)).to.equal(true);
      const failed = await store.list({ clinicId, status: 'failed' });
      expect(failed.map((d) => d.lastError)).to.deep.equal(['endpoint disabled (410 Gone)', 'endpoint disabled (410 Gone)']);
      expect((await store.list({ clinicId, type: 'consent.opted_out' })).map((d) => d.id)).to.deep.equal([ds[0]!.id]);
      await store.enableEndpoints([e.id]);
      expect((await store.disabledEndpoints()).has(e.id)).to.equal(false);
      expect(await store.requeue({ clinicId, status: 'failed' }, later(10))).to.equal(2);
      const pending = await store.list({ clinicId, status: 'pending' });
      expect(pending.map((d) => [d.attempts, d.nextAttemptAt.getTime()])).to.deep.equal([
        [0, later(10).getTime()],
        [0, later(10).getTime()],
      ]);
      expect(await store.requeue({ ids: [ds[0]!.id] }, later(20))).to.equal(1);
    });

    it('when a failed delivery is replayed twice, then its attempts are kept and each replay is added to its history', async function () {
      const clinicId = newClinicId();
      const e = anEndpoint({ clinicId });
      const d = aDelivery({ clinicId }, e);
      await store.addJobs([d]);
      let l = await store.lease(now, 1000, []);
      while (l && l.job.id !== d.id) {
        await store.finish(l, { status: 'delivered', attempts: 1, at: now });
        l = await store.lease(now, 1000, []);
      }
      await store.finish(l!, { status: 'failed', attempts: 10, at: now, lastStatus: 500, lastError: 'HTTP 500' });
      expect(await store.requeue({ ids: [d.id] }, later(10))).to.equal(1);
      const [once] = await store.find(d.id);
      expect(once).to.deep.include({ status: 'pending', attempts: 10 });
      expect(once!.replays).to.deep.equal([{ at: later(10), attemptsBefore: 10, statusBefore: 'failed', lastErrorBefore: 'HTTP 500' }]);
      expect(await store.requeue({ ids: [d.id] }, later(20))).to.equal(1);
      const [twice] = await store.find(d.id);
      expect(twice!.attempts).to.equal(10);
      expect(twice!.replays?.map((r) => [r.at.getTime(), r.attemptsBefore, r.statusBefore])).to.deep.equal([
        [later(10).getTime(), 10, 'failed'],
        [later(20).getTime(), 10, 'pending'],
      ]);
    });

    it('when deliveries of a clinic are pending, delivered and failed, then stats count them by clinic, type and status and name the oldest pending arrival', async function () {
      const clinicId = newClinicId();
      const e = anEndpoint({ clinicId });
      const old = { ...aDelivery({ clinicId, receivedAt: new Date('2000-01-01T00:00:00Z') }, e) };
      const done = aDelivery({ clinicId, type: 'message.routed' }, e);
      await store.addJobs([old, done]);
      let l = await store.lease(now, 1000, []);
      while (l && l.job.id !== done.id) {
        await store.finish(l, { status: l.job.clinicId === clinicId ? 'pending' : 'delivered', attempts: 1, at: now, nextAttemptAt: later(60_000) });
        l = await store.lease(now, 1000, []);
      }
      await store.finish(l!, { status: 'delivered', attempts: 1, at: now });
      const stats = await store.stats();
      const mine = stats.counts.filter((c) => c.clinicId === clinicId).sort((a, b) => a.type.localeCompare(b.type));
      expect(mine).to.deep.equal([
        { clinicId, type: 'appointment.confirmed', status: 'pending', count: 1 },
        { clinicId, type: 'message.routed', status: 'delivered', count: 1 },
      ]);
      expect(stats.oldestPendingAt).to.deep.equal(new Date('2000-01-01T00:00:00Z'));
    });
  });
}
