import { expect } from 'chai';
import type { MessageRecord } from '../../../src/domain.js';
import { MemoryStore, type DroppedTable } from '../../../src/store/memory/memory-store.js';
import { aMessage } from '../../contract/store-fixtures.js';

const received = (sid: string): MessageRecord => aMessage({ clinicId: 'downtown', messageSid: sid });

const finish = async (store: MemoryStore, sid: string, reply = `reply ${sid}`): Promise<void> =>
  void await store.completeMessage(sid, { status: 'processed', patientIds: [], rulesFired: ['confirm'], actions: [], reply });

async function handled(store: MemoryStore, sid: string): Promise<void> {
  expect((await store.claimMessage(received(sid))).claimed).to.equal(true);
  await finish(store, sid);
}

const window = (minute: number): { key: string; expiresAt: Date } => ({ key: String(minute), expiresAt: new Date((minute + 2) * 60_000) });

describe('MemoryStore bound (MEMORY_STORE_MAX_MESSAGES)', () => {
  it('when more messages finish than it keeps, then the oldest finished records go first and each drop is reported', async () => {
    const dropped: DroppedTable[] = [];
    const store = new MemoryStore({ maxMessages: 3, onDrop: (t) => dropped.push(t) });
    for (const sid of ['SM1', 'SM2', 'SM3', 'SM4', 'SM5']) {
      await handled(store, sid);
    }
    expect(await store.getMessage('SM1')).to.equal(null);
    expect(await store.getMessage('SM2')).to.equal(null);
    expect((await store.getMessage('SM3'))?.reply).to.equal('reply SM3');
    expect((await store.getMessage('SM5'))?.reply).to.equal('reply SM5');
    expect(dropped).to.deep.equal(['messages', 'messages']);
  });

  it('when messages are still in flight, then they are never dropped, however many others finish', async () => {
    const store = new MemoryStore({ maxMessages: 2 });
    await store.claimMessage(received('SMslow'));
    for (const sid of ['SM1', 'SM2', 'SM3', 'SM4']) {
      await handled(store, sid);
    }
    expect((await store.getMessage('SMslow'))?.status).to.equal('received');
    await finish(store, 'SMslow', 'late reply');
    expect((await store.getMessage('SMslow'))?.reply).to.equal('late reply');
  });

  it('when a kept record is delivered again or completed again, then it is counted once and keeps its place', async () => {
    const store = new MemoryStore({ maxMessages: 2 });
    await handled(store, 'SM1');
    await handled(store, 'SM2');
    // Rewrites of SM1 must not enter it twice: if they did, SM2 would be pushed out by SM3 alone.
    await store.recordDuplicate('SM1', new Date(Date.UTC(2030, 0, 1, 0, 1)));
    await finish(store, 'SM1', 'reply SM1 again');
    await handled(store, 'SM3');
    expect(await store.getMessage('SM1')).to.equal(null);
    expect((await store.getMessage('SM2'))?.reply).to.equal('reply SM2');
    expect((await store.claimMessage(received('SM3'))).claimed).to.equal(false);
  });

  it('when a dropped MessageSid is delivered again, then it is claimed as new (the bound is what the embedded store remembers)', async () => {
    const store = new MemoryStore({ maxMessages: 1 });
    await handled(store, 'SM1');
    await handled(store, 'SM2');
    expect((await store.claimMessage(received('SM1'))).claimed).to.equal(true);
  });

  it("when a message's record is dropped, then the drop is reported once, as a message", async () => {
    const dropped: DroppedTable[] = [];
    const store = new MemoryStore({ maxMessages: 2, onDrop: (t) => dropped.push(t) });
    await handled(store, 'SM1');
    await handled(store, 'SM2');
    expect(dropped).to.deep.equal([]);
    await handled(store, 'SM3');
    expect(dropped).to.deep.equal(['messages']);
    expect(await store.getMessage('SM1')).to.equal(null);
  });

  it("when a newer rate window starts, then expired senders' counters are dropped and the current window still counts", async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 2000; i++) {
      await store.touchSender('downtown', `+1312555${String(i).padStart(4, '0')}`, window(100));
    }
    const rate = (store as unknown as { rate: Map<string, unknown> }).rate;
    expect(rate.size).to.equal(2000);
    // Minute 103: the windows of minute 100 are over.
    for (let i = 0; i < 3; i++) {
      await store.touchSender('downtown', '+13125559999', window(103));
    }
    expect(rate.size).to.equal(1);
    expect((await store.touchSender('downtown', '+13125559999', window(103))).count).to.equal(4);
  });

  it('when a counter is from the minute before the newest, then it is kept (a sender counting across the minute is not reset early)', async () => {
    const store = new MemoryStore();
    await store.touchSender('downtown', '+13125550001', window(100));
    await store.touchSender('downtown', '+13125559999', window(101));
    const rate = (store as unknown as { rate: Map<string, unknown> }).rate;
    expect(rate.size).to.equal(2);
    expect((await store.touchSender('downtown', '+13125550001', window(100))).count).to.equal(2);
  });
});
