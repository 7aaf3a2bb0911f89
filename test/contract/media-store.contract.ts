import { expect } from 'chai';
import type { Readable } from 'node:stream';
import { EPOCH, type MediaStore } from '../../src/media/media-store.js';
import { newClinicId } from './store-fixtures.js';
import { aMediaRecord, sidOf } from '../support/media-builders.js';

export type MakeMediaStore = () => Promise<{ media: MediaStore; dispose(): Promise<void> } | null>;

const T0 = new Date('2026-06-01T12:00:05Z');
const later = (ms: number): Date => new Date(T0.getTime() + ms);

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The behaviour every MediaStore adapter must have (memory: files under MEDIA_DIR;
 * MongoDB: GridFS). Tests share one store and keep apart by clinic id; the lease tests use dates of their own.
 * @param name - the adapter
 * @param make - makes it (initialised) and its disposal; null skips
 */
export function describeMediaStoreContract(name: string, make: MakeMediaStore): void {
  describe(`MediaStore contract: ${name}`, function () {
    let handle: Awaited<ReturnType<MakeMediaStore>> = null;
    let media: MediaStore;

    /** Settles whatever earlier tests left due, so a lease test sees only its own records (leases are not by clinic). */
    async function drain(): Promise<void> {
      for (;;) {
        const leased = await media.lease(new Date('2100-01-01T00:00:00Z'), 1);
        if (!leased) {
          return;
        }
        await media.finish(leased, { state: 'failed', work: 'none', attempts: 0, nextAttemptAt: T0 });
      }
    }

    before(async function () {
      handle = await make();
      if (!handle) {
        this.skip();
      }
      media = handle.media;
    });

    after(async function () {
      await handle?.dispose();
    });

    it('when the same records are added twice, then they are kept once and the second add reports none new', async function () {
      const clinicId = newClinicId();
      const a = aMediaRecord({ clinicId });
      const b = aMediaRecord({ clinicId, messageSid: a.messageSid, index: 1 });
      expect(await media.addJobs([a, b])).to.equal(2);
      expect(await media.addJobs([a, b])).to.equal(0);
      expect(await media.listForMessages(clinicId, [a.messageSid])).to.deep.equal([a, b]);
      expect(await media.get(clinicId, a.id)).to.deep.equal(a);
      expect(await media.get(newClinicId(), a.id), 'another clinic sees nothing').to.equal(null);
      // A crash after part of a message's records went in: the rest are added, the others left alone.
      const c = aMediaRecord({ clinicId, messageSid: a.messageSid, index: 2 });
      expect(await media.addJobs([a, c, b])).to.equal(1);
      expect(await media.listForMessages(clinicId, [a.messageSid])).to.deep.equal([a, b, c]);
    });

    it('when records are added and settled, then the work count holds those with a fetch or deletion left, leased or not', async function () {
      await drain();
      expect(await media.countWork()).to.equal(0);
      const clinicId = newClinicId();
      const a = aMediaRecord({ clinicId, nextAttemptAt: T0 });
      const b = aMediaRecord({ clinicId, messageSid: a.messageSid, index: 1, nextAttemptAt: later(60_000) });
      const refused = aMediaRecord({ clinicId, messageSid: a.messageSid, index: 2, state: 'refused', work: 'none', reason: 'host is not Twilio' });
      await media.addJobs([a, b, refused]);
      expect(await media.countWork(), 'a due fetch and a later one; the refused record has no work').to.equal(2);
      const leased = await media.lease(later(1), 60_000);
      expect(leased?.job.id).to.equal(a.id);
      expect(await media.countWork(), 'a leased record still has its work').to.equal(2);
      await media.finish(leased!, { state: 'failed', work: 'none', attempts: 1, nextAttemptAt: T0, reason: 'HTTP 401' });
      expect(await media.countWork()).to.equal(1);
    });

    it('when a record is leased, then nobody else gets it until the lease runs out, and the soonest due comes first', async function () {
      await drain();
      const clinicId = newClinicId();
      const late = aMediaRecord({ clinicId, nextAttemptAt: later(-1000) });
      const early = aMediaRecord({ clinicId, nextAttemptAt: later(-2000) });
      const future = aMediaRecord({ clinicId, nextAttemptAt: later(60_000) });
      const settled = aMediaRecord({ clinicId, work: 'none', state: 'stored', nextAttemptAt: later(-5000) });
      await media.addJobs([late, early, future, settled]);
      const first = await media.lease(T0, 1000);
      const second = await media.lease(T0, 1000);
      expect(first?.job.id).to.equal(early.id);
      expect(first?.job.lockedUntil).to.deep.equal(later(1000));
      expect(second?.job.id).to.equal(late.id);
      expect(await media.lease(T0, 1000), 'the rest is not due or settled').to.equal(null);
      const again = await media.lease(later(1000), 1000);
      expect(again?.job.id, 'an expired lease is taken again').to.equal(early.id);
      expect(again?.token).to.not.equal(first?.token);
    });

    it('when an attempt is put off or settled, then what is due sooner comes first, the put-off one comes back once due, the settled one never', async function () {
      await drain();
      const clinicId = newClinicId();
      const [a, b, c] = [-3000, -2000, -1000].map((ms, index) => aMediaRecord({ clinicId, index, nextAttemptAt: later(ms) }));
      await media.addJobs([c, a, b].map((r) => r!));
      const first = await media.lease(T0, 1000);
      expect(first?.job.id).to.equal(a?.id);
      expect(await media.finish(first!, { state: 'pending', work: 'fetch', attempts: 1, nextAttemptAt: later(500), lastError: 'HTTP 404' })).to.equal(true);
      const second = await media.lease(T0, 1000);
      const third = await media.lease(T0, 1000);
      expect([second?.job.id, third?.job.id]).to.deep.equal([b?.id, c?.id]);
      expect(await media.lease(T0, 1000), 'the put-off one is not due yet').to.equal(null);
      expect(await media.finish(second!, { state: 'stored', work: 'none', attempts: 1, nextAttemptAt: T0 })).to.equal(true);
      expect((await media.lease(later(500), 1000))?.job.id, 'due again (the other is still leased)').to.equal(a?.id);
      expect((await media.lease(later(1000), 1000))?.job.id, 'an expired lease, taken again').to.equal(c?.id);
      expect(await media.lease(later(60_000), 1000), 'the settled one is not taken').to.not.have.nested.property('record.id', b?.id);
    });

    it('when an attempt finishes under its lease, then the update is written and the lease released; a lost lease writes nothing', async function () {
      await drain();
      const clinicId = newClinicId();
      const r = aMediaRecord({ clinicId, nextAttemptAt: later(-10), lastError: 'HTTP 404' });
      await media.addJobs([r]);
      const stale = await media.lease(T0, 100);
      const current = await media.lease(later(100), 100);
      expect(stale && current).to.not.equal(null);
      expect(await media.finish(stale!, { state: 'failed', work: 'none', attempts: 9, nextAttemptAt: T0, reason: 'x' })).to.equal(false);
      const file = { fileId: 'f', sha256: 'a'.repeat(64), contentType: 'image/png', size: 3, fetchedAt: later(150) };
      expect(await media.finish(current!, { state: 'stored', work: 'delete', attempts: 0, nextAttemptAt: later(150), file })).to.equal(true);
      const stored = await media.get(clinicId, r.id);
      const { lastError: _dropped, ...rest } = r;
      expect(stored, 'an optional field the update lacks is removed').to.deep.equal({ ...rest, state: 'stored', work: 'delete', attempts: 0, nextAttemptAt: later(150), lockedUntil: EPOCH, file });
      expect(await media.finish(current!, { state: 'failed', work: 'none', attempts: 1, nextAttemptAt: T0 }), 'a finished lease is spent').to.equal(false);
    });

    it('when bytes are saved, then they read back the same, and deleted they are gone', async function () {
      const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
      const fileId = await media.saveFile(
        { clinicId: newClinicId(), messageSid: sidOf('MM'), index: 0, sha256: 'b'.repeat(64), contentType: 'text/plain', size: bytes.length, fetchedAt: T0 },
        bytes,
      );
      const stream = await media.openFile(fileId);
      expect(stream).to.not.equal(null);
      expect(await readAll(stream!)).to.deep.equal(bytes);
      await media.deleteFile(fileId);
      expect(await media.openFile(fileId)).to.equal(null);
      await media.deleteFile(fileId);
      expect(await media.openFile('../../etc/passwd'), 'a made-up id opens nothing').to.equal(null);
    });

    it('when media of several messages are listed, then only the clinic\'s, by MessageSid and index', async function () {
      const clinicId = newClinicId();
      const [m1, m2] = [sidOf('MM'), sidOf('MM')].sort();
      const records = [aMediaRecord({ clinicId, messageSid: m2, index: 1 }), aMediaRecord({ clinicId, messageSid: m1 }), aMediaRecord({ clinicId, messageSid: m2 })];
      await media.addJobs([...records, aMediaRecord({ clinicId: newClinicId(), messageSid: m1, index: 3 })]);
      const listed = await media.listForMessages(clinicId, [m1 as string, m2 as string]);
      expect(listed.map((r) => r.id)).to.deep.equal([`${m1}-0`, `${m2}-0`, `${m2}-1`]);
      expect(await media.listForMessages(clinicId, [])).to.deep.equal([]);
    });
  });
}
