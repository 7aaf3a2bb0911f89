import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clinic } from '../../../src/domain.js';
import { mediaRelay } from '../../../src/media/media-relay.js';
import type { MediaRecord } from '../../../src/media/media-store.js';
import { MemoryMediaStore } from '../../../src/media/memory-media-store.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aMessage, newClinicId } from '../../contract/store-fixtures.js';
import { turnCounter } from '../../support/event-loop-turns.js';
import { sidOf } from '../../support/media-builders.js';

const ACCOUNT = 'AC00000000000000000000000000000000';
const policy = { production: false, apiBaseUrl: 'https://api.twilio.com' };

describe('MediaRelay', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'media-relay-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when the relay takes a batch on the embedded store, then it stops at the batch size and lets the event loop turn between two messages of a lane', async () => {
    const store = new MemoryStore();
    const media = new MemoryMediaStore(dir);
    const clinicId = newClinicId();
    for (let i = 0; i < 4; i++) {
      const messageSid = sidOf('MM');
      const url = `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT}/Messages/${messageSid}/Media/${sidOf('ME')}`;
      const base = aMessage({ clinicId, messageSid, mediaPending: true });
      await store.claimMessage({ ...base, message: { ...base.message, numMedia: 1, media: [{ url, contentType: 'image/jpeg' }] } });
    }
    const turnsAtAdd: number[] = [];
    const add = media.addJobs.bind(media);
    media.addJobs = async (records: readonly MediaRecord[]): Promise<number> => {
      turnsAtAdd.push(turns.now());
      return add(records);
    };
    const clinic = { id: clinicId } as Clinic;
    const relay = mediaRelay({ store, media, clinic: () => clinic, policy, logger: { warn: () => undefined }, batch: 3, concurrency: 1 });
    const turns = turnCounter();
    try {
      expect(await relay.runOnce()).to.equal(3);
    } finally {
      turns.stop();
    }
    expect(turnsAtAdd).to.have.length(3);
    expect(turnsAtAdd[1], 'a turn between the first and second message').to.be.greaterThan(turnsAtAdd[0] as number);
    expect(turnsAtAdd[2], 'a turn between the second and third message').to.be.greaterThan(turnsAtAdd[1] as number);
    expect(await store.pendingMedia(10), 'the fourth message waits for the next batch').to.have.length(1);
  });
});
