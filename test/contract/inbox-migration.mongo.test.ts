/**
 * Conversations replaced the write-only `inbox` collection: what a database still holds
 * there moves into conversations when the conversation store starts, once.
 */
import { expect } from 'chai';
import { MongoConversationStore } from '../../src/conversations/mongo-conversation-store.js';
import { LEGACY_INBOX } from '../../src/conversations/migrate-inbox.js';
import { conversationOf } from '../support/conversations.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../support/mongo.js';
import { aMessage, aPatient, newPhone, newSid } from './store-fixtures.js';

const at = (iso: string): Date => new Date(iso);

describe('legacy inbox migration (MongoDB)', function () {
  let handle: TestMongoStore | undefined;

  before(async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'inbox-migration' });
  });

  after(async function () {
    await handle?.dispose();
  });

  /** An item as the store wrote it before conversations (src/store/mongo, InboxItem). */
  function legacyItem(o: { clinicId: string; from: string; messageSid: string; kind?: string; patientIds: string[]; body: string; createdAt: Date; status?: 'open' | 'done' }): Record<string, unknown> {
    const kind = o.kind ?? 'message';
    return { _id: `${o.messageSid}:${kind}`, id: `${o.messageSid}:${kind}`, kind, media: [], status: 'open', ...o };
  }

  it('when the inbox holds open items, then each sender gets one open conversation waiting since its oldest item, and a second start changes nothing', async function () {
    const { store, dbName } = handle!;
    const db = store.client.db(dbName);
    const clinicId = 'downtown';
    const ana = newPhone();
    const ben = newPhone();
    const patient = aPatient({ clinicId, phone: ana, firstName: 'Ana', lastName: 'Diaz' });
    await store.upsertPatients([patient]);
    const first = aMessage({ clinicId });
    first.message.from = ana;
    first.message.to = '+13125550101';
    await store.claimMessage(first);
    const second = newSid();
    await db.collection(LEGACY_INBOX).insertMany([
      legacyItem({ clinicId, from: ana, messageSid: first.messageSid, patientIds: [patient.id], body: 'Can I come earlier?', createdAt: at('2026-05-01T10:00:00Z') }) as never,
      legacyItem({ clinicId, from: ana, messageSid: second, kind: 'cancel-request', patientIds: [patient.id], body: 'cancel appt', createdAt: at('2026-05-02T10:00:00Z') }) as never,
      legacyItem({ clinicId, from: ben, messageSid: newSid(), patientIds: [], body: 'done already', createdAt: at('2026-05-03T10:00:00Z'), status: 'done' }) as never,
    ]);
    const conversations = new MongoConversationStore(store.database);

    await conversations.init();

    const now = at('2026-06-01T00:00:00Z');
    const moved = await conversationOf(conversations, clinicId, ana, now);
    expect(moved).to.deep.include({
      status: 'open',
      clinicNumber: '+13125550101',
      waitingSince: at('2026-05-01T10:00:00Z'),
      last: { at: at('2026-05-02T10:00:00Z'), direction: 'inbound', preview: 'cancel appt' },
      patients: [{ id: patient.id, displayName: 'Ana Diaz' }],
    });
    // A handled item opens nothing: its message stays in the thread through the audit records.
    expect(await conversationOf(conversations, clinicId, ben, now)).to.equal(null);
    expect(await db.collection(LEGACY_INBOX).countDocuments({ migratedAt: { $exists: false } })).to.equal(0);

    await conversations.update(clinicId, moved!.id, { status: 'resolved', answered: true }, now);
    await conversations.init();
    expect(await conversationOf(conversations, clinicId, ana, now)).to.deep.include({ id: moved!.id, status: 'resolved', waitingSince: null });
    expect(await db.collection(LEGACY_INBOX).countDocuments()).to.equal(3);
  });

  it('when there is no inbox collection, then init() succeeds and creates none', async function () {
    const { store, dbName } = handle!;
    const db = store.client.db(dbName);
    await db.collection(LEGACY_INBOX).drop().catch(() => undefined);
    await new MongoConversationStore(store.database).init();
    expect((await db.listCollections({ name: LEGACY_INBOX }).toArray()).length).to.equal(0);
  });
});
