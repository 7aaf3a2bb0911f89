import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { RoutedMessage, StaffEntry } from '../../../src/conversations/conversation.js';
import { openStaffStores } from '../../../src/conversations/staff-api.js';
import type { MessageRecord } from '../../../src/domain.js';
import { openMediaStorage } from '../../../src/media/start-media.js';
import { memoryBackend } from '../../../src/store/backend.js';
import { MemoryStore, type DroppedMessage } from '../../../src/store/memory/memory-store.js';
import { aMessage } from '../../contract/store-fixtures.js';
import { aMediaRecord } from '../../support/media-builders.js';

const CLINIC = 'downtown';
const at = (minute: number): Date => new Date(Date.UTC(2026, 5, 1, 10, minute));

/** A message from `phone` received at minute `minute`, claimed and finished. */
async function handled(store: MemoryStore, phone: string, minute: number, sid = `SM${randomUUID().replace(/-/g, '')}`): Promise<MessageRecord> {
  const base = aMessage({ clinicId: CLINIC, messageSid: sid, receivedAt: at(minute) });
  const record: MessageRecord = { ...base, message: { ...base.message, messageSid: sid, from: phone } };
  expect((await store.claimMessage(record)).claimed).to.equal(true);
  await store.completeMessage(sid, { status: 'processed', patientIds: [], rulesFired: [], actions: [], reply: null });
  return record;
}

const routed = (record: MessageRecord): RoutedMessage => ({
  clinicId: CLINIC,
  phone: record.message.from,
  clinicNumber: '+13125550100',
  messageSid: record.messageSid,
  at: record.receivedAt,
  body: 'a question',
  patients: [],
});

const aNote = (conversationId: string, minute: number): StaffEntry => ({ id: `en_${randomUUID().replace(/-/g, '')}`, kind: 'note', text: 'called back', at: at(minute), author: 'k-1', conversationId, clinicId: CLINIC });

describe('the embedded store bound, beyond messages (MEMORY_STORE_MAX_MESSAGES)', () => {
  it("when the store drops a sender's messages, then its listeners hear each one and which was the sender's last; the sender's memo goes, the opt-out stays", async () => {
    const store = new MemoryStore({ maxMessages: 2 });
    const heard: DroppedMessage[] = [];
    store.onMessageDropped((d) => heard.push(d));
    const first = await handled(store, '+13125550001', 0);
    await handled(store, '+13125550001', 1);
    await store.noteAutoReply(CLINIC, '+13125550001', 'unknown-number', at(1));
    await store.setOptOut({ clinicId: CLINIC, phone: '+13125550001', optedOut: true, changedAt: at(1), keyword: 'STOP', messageSid: first.messageSid });
    await handled(store, '+13125550002', 2);
    await handled(store, '+13125550002', 3);
    expect(heard.map((d) => [d.messageSid === first.messageSid, d.phone, d.lastOfSender])).to.deep.equal([
      [true, '+13125550001', false],
      [false, '+13125550001', true],
    ]);
    const state = await store.touchSender(CLINIC, '+13125550001', { key: 'w', expiresAt: at(5) });
    expect(state.optedOut, 'opt-outs stay, by design').to.equal(true);
    expect(state.autoReplies, 'the memo went with the last message').to.equal(undefined);
  });

  it("when staff wrote to a sender after its last message, then the sender's memo stays when that message is dropped", async () => {
    const store = new MemoryStore({ maxMessages: 1 });
    await handled(store, '+13125550003', 0);
    await store.noteStaffActivity(CLINIC, '+13125550003', at(5));
    await handled(store, '+13125550004', 6);
    expect((await store.peekSender(CLINIC, '+13125550003')).staffAt).to.deep.equal(at(5));
  });

  it("when the last message of a sender is dropped, then the sender's conversation goes with its notes and read marks; another sender's stays", async () => {
    const store = new MemoryStore({ maxMessages: 1 });
    const { conversations } = await openStaffStores(memoryBackend(store));
    const a = await handled(store, '+13125550011', 0);
    await conversations.recordRouted(routed(a), 'cv_a');
    await conversations.addEntry(aNote('cv_a', 0));
    await conversations.markRead('k-1', 'cv_a', at(0));
    const b = await handled(store, '+13125550012', 1);
    await conversations.recordRouted(routed(b), 'cv_b');
    expect(await conversations.conversationIdFor(CLINIC, '+13125550011')).to.equal(null);
    expect(await conversations.get(CLINIC, 'cv_a')).to.equal(null);
    expect(await conversations.entries('cv_a', 10)).to.deep.equal([]);
    expect((await conversations.readMarks('k-1', ['cv_a'])).size).to.equal(0);
    expect(await conversations.conversationIdFor(CLINIC, '+13125550012')).to.equal('cv_b');
    expect((await conversations.list({ clinicId: CLINIC, limit: 10, now: at(2) })).conversations.map((c) => c.id)).to.deep.equal(['cv_b']);
  });

  it('when staff wrote in a conversation after its last message, then the conversation stays when that message is dropped', async () => {
    const store = new MemoryStore({ maxMessages: 1 });
    const { conversations } = await openStaffStores(memoryBackend(store));
    const a = await handled(store, '+13125550021', 0);
    await conversations.recordRouted(routed(a), 'cv_a');
    await conversations.addEntry(aNote('cv_a', 5));
    await handled(store, '+13125550022', 6);
    expect(await conversations.conversationIdFor(CLINIC, '+13125550021')).to.equal('cv_a');
    expect(await conversations.entries('cv_a', 10)).to.have.length(1);
  });

  describe('media', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'bound-media-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("when a message is dropped, then its media records and their files go; another message's stay", async () => {
      const store = new MemoryStore({ maxMessages: 1 });
      const media = await openMediaStorage(memoryBackend(store), dir);
      await media.init();
      const a = await handled(store, '+13125550031', 0);
      const record = aMediaRecord({ clinicId: CLINIC, messageSid: a.messageSid });
      await media.addJobs([record]);
      const leased = await media.lease(new Date(Date.now() + 1000), 60_000);
      const fileId = await media.saveFile({ clinicId: CLINIC, messageSid: a.messageSid, index: 0, sha256: 'x', contentType: 'image/jpeg', size: 4, fetchedAt: new Date() }, Buffer.from('jpeg'));
      expect(await media.finish(leased!, { state: 'stored', work: 'none', attempts: 1, nextAttemptAt: new Date(0), file: { fileId, sha256: 'x', contentType: 'image/jpeg', size: 4, fetchedAt: new Date() } })).to.equal(true);
      const b = await handled(store, '+13125550032', 1);
      const other = aMediaRecord({ clinicId: CLINIC, messageSid: b.messageSid });
      await media.addJobs([other]);
      await handled(store, '+13125550033', 2);
      expect(await media.get(CLINIC, record.id)).to.equal(null);
      expect(await media.get(CLINIC, other.id)).to.equal(null);
      expect(await media.countWork(), 'a dropped record leaves the lease index too').to.equal(0);
      // The files are deleted in the background of the drop (the store's write does not wait on the disk).
      for (let i = 0; i < 100 && (await readdir(dir)).length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await readdir(dir)).to.deep.equal([]);
    });
  });
});
