import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MediaWorker } from '../../../src/media/media-worker.js';
import { MemoryMediaStore } from '../../../src/media/memory-media-store.js';
import { newClinicId } from '../../contract/store-fixtures.js';
import { aMediaRecord } from '../../support/media-builders.js';

describe('MediaWorker under load', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'media-worker-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** How long step() took to lease its job, with the process busy or not. */
  async function msToLease(busy: boolean): Promise<number> {
    const media = new MemoryMediaStore(dir);
    await media.addJobs([aMediaRecord({ clinicId: newClinicId(), nextAttemptAt: new Date(0) })]);
    let leasedAt = NaN;
    const lease = media.lease.bind(media);
    media.lease = async (now, leaseMs) => {
      leasedAt = performance.now();
      return lease(now, leaseMs);
    };
    // No clinic is configured: the job settles as failed without any download.
    const worker = new MediaWorker({ media, clinic: () => undefined, policy: { production: false, apiBaseUrl: 'https://api.twilio.com' }, env: {}, defaultToken: undefined, logger: { info: () => undefined, warn: () => undefined }, busy: () => busy, busyPauseMs: 150 });
    const start = performance.now();
    expect(await worker.step()).to.equal(true);
    return leasedAt - start;
  }

  it('when the event loop is busy, then the worker waits its pause before it takes the next job; when not, it takes it at once', async () => {
    expect(await msToLease(true)).to.be.at.least(140);
    expect(await msToLease(false)).to.be.below(100);
  });
});
