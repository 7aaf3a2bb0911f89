import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { ChangeKey, ConversationStore } from '../../src/conversations/conversation-store.js';
import { DELIVERY_RANK, type ChangedConversation, type ListPosition, type ListQuery, type RoutedMessage, type StaffEntry } from '../../src/conversations/conversation.js';
import type { Store } from '../../src/store/store.js';
import { aMessage, newClinicId, newPhone } from './store-fixtures.js';

export interface ConversationStoreUnderTest {
  conversations: ConversationStore;
  /** The main store whose audit records the thread reads. */
  store: Store;
  dispose(): Promise<void>;
}

const at = (iso: string): Date => new Date(iso);
const newId = (): string => `cv_${randomUUID().replace(/-/g, '')}`;

function routed(overrides: Partial<RoutedMessage> & { clinicId: string; phone: string }): RoutedMessage {
  return {
    clinicNumber: '+13125550100',
    messageSid: `SM${randomUUID().replace(/-/g, '')}`,
    at: at('2026-06-01T10:00:00Z'),
    body: 'Can someone call me about my results?',
    patients: [{ id: 'p-1', displayName: 'Ana D.' }],
    ...overrides,
  };
}

function anEntry(overrides: Partial<StaffEntry> & { conversationId: string; clinicId: string }): StaffEntry {
  return { id: `en_${randomUUID().replace(/-/g, '')}`, kind: 'note', text: 'called back', at: at('2026-06-01T11:00:00Z'), author: 'k-1', ...overrides };
}

/**
 * The behaviour every ConversationStore adapter must have: on the embedded store always,
 * on MongoDB when a server is found. Tests keep apart by clinic id.
 * @param name - the adapter, for the title
 * @param make - makes the stores (initialised); null skips the suite
 */
export function describeConversationStoreContract(name: string, make: () => Promise<ConversationStoreUnderTest | null>): void {
  describe(`ConversationStore contract: ${name}`, function () {
    let handle: ConversationStoreUnderTest | null = null;
    let conversations: ConversationStore;

    before(async function () {
      handle = await make();
      if (!handle) {
        this.skip();
      }
      conversations = handle.conversations;
    });

    after(async function () {
      await handle?.dispose();
    });

    /** The id of the conversation of clinic + phone, through the list. */
    async function idOf(clinicId: string): Promise<string> {
      const { conversations: page } = await conversations.list({ clinicId, limit: 10, now: at('2026-06-01T00:00:00Z') });
      expect(page).to.have.length(1);
      return page[0]!.id;
    }

    it('when init() is called again, then it succeeds', async function () {
      await conversations.init();
      await conversations.init();
    });

    it('when a routed message arrives from a new phone, then one open conversation holds it: waitingSince, preview, patients', async function () {
      const clinicId = newClinicId();
      const phone = newPhone();
      const id = newId();
      await conversations.recordRouted(routed({ clinicId, phone }), id);
      const c = await conversations.get(clinicId, id);
      expect(c).to.deep.equal({
        id,
        clinicId,
        phone,
        clinicNumber: '+13125550100',
        status: 'open',
        snoozedUntil: null,
        assignee: null,
        waitingSince: at('2026-06-01T10:00:00Z'),
        last: { at: at('2026-06-01T10:00:00Z'), direction: 'inbound', preview: 'Can someone call me about my results?' },
        patients: [{ id: 'p-1', displayName: 'Ana D.' }],
        createdAt: at('2026-06-01T10:00:00Z'),
        priority: 'normal',
        priorityReason: null,
        possibleOptOutAt: null,
      });
    });

    it('when an urgent message is routed, then the conversation is urgent with its reason; a later normal message keeps it urgent; staff answering makes it normal', async function () {
      const clinicId = newClinicId();
      const phone = newPhone();
      const id = newId();
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:00:00Z') }), id);
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:01:00Z'), priority: 'urgent', priorityReason: 'chest pain' }), newId());
      expect(await conversations.get(clinicId, id)).to.include({ priority: 'urgent', priorityReason: 'chest pain' });
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:02:00Z'), priority: 'normal' }), newId());
      expect(await conversations.get(clinicId, id)).to.include({ priority: 'urgent', priorityReason: 'chest pain' });
      await conversations.update(clinicId, id, { assignee: 'Maria' }, at('2026-06-01T10:03:00Z'));
      expect(await conversations.get(clinicId, id)).to.include({ priority: 'urgent' });
      const answered = await conversations.update(clinicId, id, { status: 'pending', answered: true }, at('2026-06-01T10:04:00Z'));
      expect(answered).to.include({ priority: 'normal', priorityReason: null });
      // A new phone whose first message is urgent.
      const other = newId();
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), priority: 'urgent', priorityReason: 'cant breathe' }), other);
      expect(await conversations.get(clinicId, other)).to.include({ priority: 'urgent', priorityReason: 'cant breathe' });
    });

    it('when some conversations are urgent, then they come first (newest first among them), and a cursor walks across the boundary once', async function () {
      const clinicId = newClinicId();
      const ids: string[] = [];
      // Six conversations; the 2nd and 4th oldest are urgent.
      const times = ['2026-06-01T10:00:00Z', '2026-06-01T10:01:00Z', '2026-06-01T10:02:00Z', '2026-06-01T10:03:00Z', '2026-06-01T10:04:00Z', '2026-06-01T10:05:00Z'];
      for (const [i, t] of times.entries()) {
        const id = newId();
        ids.push(id);
        const urgent = i === 1 || i === 3;
        await conversations.recordRouted(routed({ clinicId, phone: newPhone(), at: at(t), ...(urgent ? { priority: 'urgent' as const, priorityReason: 'chest pain' } : {}) }), id);
      }
      const now = at('2026-06-02T00:00:00Z');
      for (const limit of [1, 2, 3, 10]) {
        const seen: string[] = [];
        let after: ListPosition | undefined;
        for (let page = 0; page < 10; page++) {
          const result = await conversations.list({ clinicId, limit, now, ...(after ? { after } : {}) });
          seen.push(...result.conversations.map((c) => c.id));
          if (!result.next) {
            break;
          }
          after = result.next;
        }
        expect(seen, `limit ${limit}`).to.deep.equal([ids[3], ids[1], ids[5], ids[4], ids[2], ids[0]]);
      }
      expect((await conversations.list({ clinicId, limit: 10, now, status: 'open' })).conversations.map((c) => c.priority)).to.deep.equal(['urgent', 'urgent', 'normal', 'normal', 'normal', 'normal']);
    });

    it('when a second routed message comes from the same phone, then it is the same conversation: the older wait and the newer preview stay', async function () {
      const clinicId = newClinicId();
      const phone = newPhone();
      const first = newId();
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:00:00Z'), body: 'first' }), first);
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:05:00Z'), body: 'second' }), newId());
      // A replay of an older message (after an outage) moves neither back.
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T09:00:00Z'), body: 'replayed' }), newId());
      const c = await conversations.get(clinicId, first);
      expect(c?.waitingSince).to.deep.equal(at('2026-06-01T09:00:00Z'));
      expect(c?.last).to.deep.equal({ at: at('2026-06-01T10:05:00Z'), direction: 'inbound', preview: 'second' });
      expect(await idOf(clinicId)).to.equal(first);
    });

    it('when a routed message reaches a resolved or snoozed conversation, then it is open again and the assignee stays', async function () {
      for (const status of ['resolved', 'snoozed', 'pending'] as const) {
        const clinicId = newClinicId();
        const phone = newPhone();
        const id = newId();
        await conversations.recordRouted(routed({ clinicId, phone }), id);
        await conversations.update(clinicId, id, { status, snoozedUntil: status === 'snoozed' ? at('2026-07-01T00:00:00Z') : null, assignee: 'Maria', answered: true }, at('2026-06-01T10:01:00Z'));
        expect((await conversations.get(clinicId, id))?.waitingSince).to.equal(null);
        await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:10:00Z') }), newId());
        const c = await conversations.get(clinicId, id);
        expect(c, status).to.include({ status: 'open', snoozedUntil: null, assignee: 'Maria' });
        expect(c?.waitingSince, status).to.deep.equal(at('2026-06-01T10:10:00Z'));
      }
    });

    it("when another clinic's id is asked for, then get and update answer null, as for an id that does not exist", async function () {
      const clinicId = newClinicId();
      const id = newId();
      await conversations.recordRouted(routed({ clinicId, phone: newPhone() }), id);
      expect(await conversations.get(newClinicId(), id)).to.equal(null);
      expect(await conversations.get(clinicId, newId())).to.equal(null);
      expect(await conversations.update(newClinicId(), id, { status: 'resolved' }, at('2026-06-01T11:00:00Z'))).to.equal(null);
      expect((await conversations.get(clinicId, id))?.status).to.equal('open');
    });

    it('when staff change a conversation, then status, snooze, assignee and the newer activity are kept and the wait ends only when answered', async function () {
      const clinicId = newClinicId();
      const id = newId();
      await conversations.recordRouted(routed({ clinicId, phone: newPhone() }), id);
      const assigned = await conversations.update(clinicId, id, { assignee: 'front desk 2' }, at('2026-06-01T10:30:00Z'));
      expect(assigned).to.include({ assignee: 'front desk 2', status: 'open' });
      expect(assigned?.waitingSince).to.deep.equal(at('2026-06-01T10:00:00Z'));
      const older = { at: at('2026-06-01T09:00:00Z'), direction: 'note' as const, preview: 'old' };
      expect((await conversations.update(clinicId, id, { last: older }, at('2026-06-01T10:30:00Z')))?.last.preview).to.equal('Can someone call me about my results?');
      const replied = await conversations.update(
        clinicId,
        id,
        { status: 'pending', answered: true, last: { at: at('2026-06-01T10:31:00Z'), direction: 'outbound', preview: 'We will call you' } },
        at('2026-06-01T10:31:00Z'),
      );
      expect(replied).to.include({ status: 'pending', waitingSince: null });
      expect(replied?.last).to.deep.equal({ at: at('2026-06-01T10:31:00Z'), direction: 'outbound', preview: 'We will call you' });
      const unassigned = await conversations.update(clinicId, id, { assignee: null }, at('2026-06-01T10:32:00Z'));
      expect(unassigned?.assignee).to.equal(null);
      expect(await conversations.get(clinicId, id)).to.deep.equal(unassigned);
    });

    it('when conversations are listed, then newest activity comes first, a cursor walks every page once, and status and assignee filter', async function () {
      const clinicId = newClinicId();
      const ids: string[] = [];
      // Five conversations, two sharing one time (the id breaks the tie).
      const times = ['2026-06-01T10:00:00Z', '2026-06-01T10:01:00Z', '2026-06-01T10:01:00Z', '2026-06-01T10:02:00Z', '2026-06-01T10:03:00Z'];
      for (const t of times) {
        const id = newId();
        ids.push(id);
        await conversations.recordRouted(routed({ clinicId, phone: newPhone(), at: at(t) }), id);
      }
      const now = at('2026-06-02T00:00:00Z');
      const seen: string[] = [];
      let after: ListPosition | undefined;
      for (let page = 0; page < 5; page++) {
        const result = await conversations.list({ clinicId, limit: 2, now, ...(after ? { after } : {}) });
        seen.push(...result.conversations.map((c) => c.id));
        if (!result.next) {
          break;
        }
        after = result.next;
      }
      const tied = [ids[1]!, ids[2]!].sort().reverse();
      expect(seen).to.deep.equal([ids[4], ids[3], ...tied, ids[0]]);

      await conversations.update(clinicId, ids[0]!, { status: 'resolved' }, now);
      await conversations.update(clinicId, ids[3]!, { status: 'snoozed', snoozedUntil: at('2026-06-03T00:00:00Z'), assignee: 'Maria' }, now);
      await conversations.update(clinicId, ids[4]!, { status: 'snoozed', snoozedUntil: at('2026-06-01T12:00:00Z') }, now);
      const list = async (q: { status?: 'open' | 'resolved' | 'snoozed'; assignee?: string }): Promise<string[]> =>
        (await conversations.list({ clinicId, limit: 10, now, ...q })).conversations.map((c) => c.id);
      expect(await list({ status: 'resolved' })).to.deep.equal([ids[0]]);
      expect(await list({ status: 'snoozed' })).to.deep.equal([ids[3]]);
      // A snooze that ran out counts as open.
      expect(await list({ status: 'open' })).to.deep.equal([ids[4], ...tied]);
      expect(await list({ assignee: 'Maria' })).to.deep.equal([ids[3]]);
      expect(await list({})).to.have.length(5);
      expect((await conversations.list({ clinicId: newClinicId(), limit: 10, now })).conversations).to.deep.equal([]);
    });

    it('when notes and outbound texts are added, then entries returns the newest, oldest first, and an idempotency key is used once', async function () {
      const clinicId = newClinicId();
      const conversationId = newId();
      for (let i = 0; i < 4; i++) {
        expect(await conversations.addEntry(anEntry({ clinicId, conversationId, text: `n${i}`, at: new Date(at('2026-06-01T11:00:00Z').getTime() + i * 1000) }))).to.deep.equal({
          added: true,
        });
      }
      expect((await conversations.entries(conversationId, 3)).map((e) => e.text)).to.deep.equal(['n1', 'n2', 'n3']);
      const reply = anEntry({ clinicId, conversationId, kind: 'outbound', text: 'hi', idempotency: { key: 'k1', request: 'r1' }, delivery: { rank: 0, status: 'sending-requested', at: at('2026-06-01T12:00:00Z') } });
      expect(await conversations.addEntry(reply)).to.deep.equal({ added: true });
      const again = await conversations.addEntry({ ...reply, id: newId(), text: 'other' });
      expect(again).to.deep.equal({ added: false, existing: reply });
      // Another clinic may use the same key.
      expect(await conversations.addEntry({ ...reply, id: newId(), clinicId: newClinicId() })).to.deep.equal({ added: true });
    });

    it('when delivery statuses arrive out of order, then the state only moves forward, a final status stays, and the history keeps every report', async function () {
      const clinicId = newClinicId();
      const conversationId = newId();
      const sid = `SM${randomUUID().replace(/-/g, '')}`;
      const account = `AC${'a'.repeat(32)}`;
      const match = { twilioSid: sid, clinicIds: [clinicId], accountSid: account };
      const entry = anEntry({ clinicId, conversationId, kind: 'outbound', accountSid: account, delivery: { rank: 0, status: 'sending-requested', at: at('2026-06-01T12:00:00Z') } });
      await conversations.addEntry(entry);
      await conversations.markSent(entry.id, sid, { rank: DELIVERY_RANK.queued, status: 'queued', at: at('2026-06-01T12:00:01Z') });
      const delivered = await conversations.updateDelivery(match, { rank: DELIVERY_RANK.delivered, status: 'delivered', at: at('2026-06-01T12:00:05Z') });
      expect(delivered?.delivery).to.deep.equal({ rank: 4, status: 'delivered', at: at('2026-06-01T12:00:05Z') });
      const late = await conversations.updateDelivery(match, { rank: DELIVERY_RANK.sent, status: 'sent', at: at('2026-06-01T12:00:06Z') });
      expect(late?.delivery?.status).to.equal('delivered');
      expect(late?.twilioSid).to.equal(sid);
      const failedLate = await conversations.updateDelivery(match, { rank: DELIVERY_RANK.failed, status: 'failed', at: at('2026-06-01T12:00:07Z'), errorCode: '30007' });
      expect(failedLate?.delivery?.status).to.equal('delivered');
      expect(failedLate?.deliveryHistory?.map((d) => d.status)).to.deep.equal(['queued', 'delivered', 'sent', 'failed']);
      expect(failedLate?.deliveryHistory?.[3]).to.deep.equal({ rank: 4, status: 'failed', at: at('2026-06-01T12:00:07Z'), errorCode: '30007' });
      const read = await conversations.updateDelivery(match, { rank: DELIVERY_RANK.read, status: 'read', at: at('2026-06-01T12:00:08Z') });
      expect(read?.delivery?.status).to.equal('read');
      expect(await conversations.updateDelivery({ ...match, twilioSid: `SM${randomUUID().replace(/-/g, '')}` }, { rank: 3, status: 'sent', at: at('2026-06-01T12:00:06Z') })).to.equal(null);
      const failed = anEntry({ clinicId, conversationId, kind: 'outbound', idempotency: { key: 'gone', request: 'r' } });
      await conversations.addEntry(failed);
      await conversations.removeEntry(failed.id);
      expect((await conversations.entries(conversationId, 10)).map((e) => e.id)).to.deep.equal([entry.id]);
      expect(await conversations.addEntry({ ...failed, id: newId() })).to.have.property('added', true);
    });

    it('when a pending reply is claimed, then only one caller wins, only once its lease ran out, and never after Twilio answered', async function () {
      const clinicId = newClinicId();
      const t0 = at('2026-06-01T12:00:00Z');
      const entry = anEntry({ clinicId, conversationId: newId(), kind: 'outbound', at: t0, leaseUntil: new Date(t0.getTime() + 60_000), delivery: { rank: 0, status: 'sending-requested', at: t0 } });
      await conversations.addEntry(entry);
      expect(await conversations.claimPending(entry.id, new Date(t0.getTime() + 30_000), new Date(t0.getTime() + 90_000))).to.equal(false);
      const later = new Date(t0.getTime() + 61_000);
      const claims = await Promise.all([conversations.claimPending(entry.id, later, new Date(later.getTime() + 60_000)), conversations.claimPending(entry.id, later, new Date(later.getTime() + 60_000))]);
      expect(claims.filter(Boolean)).to.have.length(1);
      await conversations.releasePending(entry.id, later);
      expect(await conversations.claimPending(entry.id, later, new Date(later.getTime() + 60_000))).to.equal(true);
      await conversations.markSent(entry.id, `SM${randomUUID().replace(/-/g, '')}`, { rank: DELIVERY_RANK.queued, status: 'queued', at: later });
      expect(await conversations.claimPending(entry.id, new Date(later.getTime() + 3_600_000), new Date(later.getTime() + 3_660_000))).to.equal(false);
      // Stored before leases were kept: its own time counts.
      const legacy = anEntry({ clinicId, conversationId: newId(), kind: 'outbound', at: t0, delivery: { rank: 0, status: 'sending-requested', at: t0 } });
      await conversations.addEntry(legacy);
      expect(await conversations.claimPending(legacy.id, new Date(t0.getTime() + 10_000), later)).to.equal(false);
      expect(await conversations.claimPending(legacy.id, later, new Date(later.getTime() + 60_000))).to.equal(true);
    });

    it("when a conversation's id is asked for by clinic and phone, then it is that conversation's, and null for another clinic or phone", async function () {
      const clinicId = newClinicId();
      const phone = newPhone();
      const id = newId();
      await conversations.recordRouted({ clinicId, phone, clinicNumber: '+13125550100', messageSid: `SM${randomUUID().replace(/-/g, '')}`, at: at('2026-06-01T12:00:00Z'), body: 'hi', patients: [] }, id);
      expect(await conversations.conversationIdFor(clinicId, phone)).to.equal(id);
      expect(await conversations.conversationIdFor(newClinicId(), phone)).to.equal(null);
      expect(await conversations.conversationIdFor(clinicId, newPhone())).to.equal(null);
    });

    it("when a delivery report names another clinic or another account, then it matches nothing and changes nothing", async function () {
      const clinicId = newClinicId();
      const sid = `SM${randomUUID().replace(/-/g, '')}`;
      const account = `AC${'b'.repeat(32)}`;
      const entry = anEntry({ clinicId, conversationId: newId(), kind: 'outbound', accountSid: account, delivery: { rank: 0, status: 'sending-requested', at: at('2026-06-01T12:00:00Z') } });
      await conversations.addEntry(entry);
      await conversations.markSent(entry.id, sid, { rank: DELIVERY_RANK.queued, status: 'queued', at: at('2026-06-01T12:00:01Z') });
      const failed = { rank: DELIVERY_RANK.failed, status: 'failed' as const, at: at('2026-06-01T12:00:02Z') };
      expect(await conversations.updateDelivery({ twilioSid: sid, clinicIds: [newClinicId()], accountSid: account }, failed)).to.equal(null);
      expect(await conversations.updateDelivery({ twilioSid: sid, clinicIds: [clinicId], accountSid: `AC${'c'.repeat(32)}` }, failed)).to.equal(null);
      const [stored] = await conversations.entries(entry.conversationId, 10);
      expect(stored?.delivery?.status).to.equal('queued');
      expect(stored?.deliveryHistory?.map((d) => d.status)).to.deep.equal(['queued']);
      // A text kept before accounts were recorded matches on SID and clinic.
      const legacySid = `SM${randomUUID().replace(/-/g, '')}`;
      const legacy = anEntry({ clinicId, conversationId: newId(), kind: 'outbound', delivery: { rank: 0, status: 'sending-requested', at: at('2026-06-01T12:00:00Z') } });
      await conversations.addEntry(legacy);
      await conversations.markSent(legacy.id, legacySid, { rank: DELIVERY_RANK.queued, status: 'queued', at: at('2026-06-01T12:00:01Z') });
      expect((await conversations.updateDelivery({ twilioSid: legacySid, clinicIds: [clinicId], accountSid: account }, failed))?.delivery?.status).to.equal('failed');
    });

    it("when the thread's inbound messages are read, then they are that clinic's records from that phone, newest `limit`, oldest first", async function () {
      const clinicId = newClinicId();
      const phone = newPhone();
      const store = handle!.store;
      const mine = [];
      for (let i = 0; i < 3; i++) {
        const record = aMessage({ clinicId, receivedAt: new Date(at('2026-06-01T10:00:00Z').getTime() + i * 60_000) });
        record.message.from = phone;
        mine.push(record);
        await store.claimMessage(record);
      }
      const other = aMessage({ clinicId });
      other.message.from = newPhone();
      await store.claimMessage(other);
      const elsewhere = aMessage({ clinicId: newClinicId() });
      elsewhere.message.from = phone;
      await store.claimMessage(elsewhere);
      expect((await conversations.inboundMessages(clinicId, phone, 10)).map((m) => m.messageSid)).to.deep.equal(mine.map((m) => m.messageSid));
      expect((await conversations.inboundMessages(clinicId, phone, 2)).map((m) => m.messageSid)).to.deep.equal(mine.slice(1).map((m) => m.messageSid));
      expect(await conversations.inboundMessages(clinicId, phone, 1)).to.deep.equal([mine[2]]);
    });

    it('when listed longest waiting first, then waiting ones come in the order they began to wait, the answered ones after by activity, and a cursor walks every page once', async function () {
      const clinicId = newClinicId();
      const ids = [newId(), newId(), newId(), newId()];
      // waits from 09:00 (last activity 10:30), from 09:30, from 09:10; the fourth is answered.
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), at: at('2026-06-01T09:00:00Z') }), ids[0]!);
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), at: at('2026-06-01T09:30:00Z') }), ids[1]!);
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), at: at('2026-06-01T09:10:00Z') }), ids[2]!);
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), at: at('2026-06-01T11:00:00Z') }), ids[3]!);
      const now = at('2026-06-01T12:00:00Z');
      await conversations.update(clinicId, ids[3]!, { answered: true }, now);
      const all = await conversations.list({ clinicId, limit: 10, now, order: 'waiting' });
      expect(all.conversations.map((c) => c.id)).to.deep.equal([ids[0], ids[2], ids[1], ids[3]]);
      const seen: string[] = [];
      let after: ListPosition | undefined;
      do {
        const page = await conversations.list({ clinicId, limit: 1, now, order: 'waiting', ...(after ? { after } : {}) });
        seen.push(...page.conversations.map((c) => c.id));
        after = page.next ?? undefined;
      } while (after);
      expect(seen).to.deep.equal([ids[0], ids[2], ids[1], ids[3]]);
    });

    it('when filtered by unassigned, phone or part of a name, and counted, then only those match and a snooze that ran out counts as open', async function () {
      const clinicId = newClinicId();
      const [a, b, c] = [newId(), newId(), newId()];
      const phoneA = newPhone();
      await conversations.recordRouted(routed({ clinicId, phone: phoneA, patients: [{ id: 'p-1', displayName: 'Zoë Martínez' }] }), a);
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), patients: [{ id: 'p-2', displayName: 'Ben (Jr.) Stone' }] }), b);
      await conversations.recordRouted(routed({ clinicId, phone: newPhone(), patients: [] }), c);
      const now = at('2026-06-01T12:00:00Z');
      await conversations.update(clinicId, b, { assignee: 'maria@x.example' }, now);
      await conversations.update(clinicId, c, { status: 'snoozed', snoozedUntil: at('2026-06-01T11:00:00Z') }, now);
      const ids = async (filter: Partial<ListQuery>): Promise<string[]> => (await conversations.list({ clinicId, limit: 10, now, ...filter })).conversations.map((x) => x.id).sort();
      expect(await ids({ assignee: null })).to.deep.equal([a, c].sort());
      expect(await ids({ assignee: 'maria@x.example' })).to.deep.equal([b]);
      expect(await ids({ phone: phoneA })).to.deep.equal([a]);
      expect(await ids({ name: 'zoË' })).to.deep.equal([a]);
      expect(await ids({ name: '(jr.)' })).to.deep.equal([b]);
      expect(await ids({ name: '.*' })).to.deep.equal([]);
      expect(await conversations.counts({ clinicId, now })).to.deep.equal({ open: 3, pending: 0, resolved: 0, snoozed: 0 });
      expect(await conversations.counts({ clinicId, now: at('2026-06-01T10:30:00Z') })).to.deep.equal({ open: 2, pending: 0, resolved: 0, snoozed: 1 });
      expect(await conversations.counts({ clinicId, now, assignee: null })).to.deep.equal({ open: 2, pending: 0, resolved: 0, snoozed: 0 });
    });

    it('when staff start a conversation with a phone, then it is created once (nothing waiting), and the same phone gets the same conversation', async function () {
      const clinicId = newClinicId();
      const phone = newPhone();
      const id = newId();
      const first = await conversations.ensure({ clinicId, phone, clinicNumber: '+13125550100', patients: [{ id: 'p-9', displayName: 'Ada Lee' }], at: at('2026-06-01T08:00:00Z') }, id);
      expect(first.created).to.equal(true);
      expect(first.conversation).to.deep.include({ id, clinicId, phone, status: 'open', assignee: null, waitingSince: null, patients: [{ id: 'p-9', displayName: 'Ada Lee' }] });
      const again = await conversations.ensure({ clinicId, phone, clinicNumber: '+13125550100', patients: [], at: at('2026-06-01T09:00:00Z') }, newId());
      expect(again.created).to.equal(false);
      expect(again.conversation.id).to.equal(id);
      await conversations.recordRouted(routed({ clinicId, phone, at: at('2026-06-01T10:00:00Z') }), newId());
      expect((await conversations.get(clinicId, id))?.waitingSince).to.deep.equal(at('2026-06-01T10:00:00Z'));
    });

    it('when conversations change, then changedSince returns each with its latest change kind, oldest change first', async function () {
      const clinicId = newClinicId();
      const since = new Date(Date.now() - 1000);
      const [a, b] = [newId(), newId()];
      await conversations.recordRouted(routed({ clinicId, phone: newPhone() }), a);
      await conversations.recordRouted(routed({ clinicId, phone: newPhone() }), b);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await conversations.update(clinicId, a, { status: 'resolved', change: 'conversation.status_changed' }, new Date());
      const mine = (await conversations.changedSince(since, 1000)).filter((row) => row.conversation.clinicId === clinicId);
      expect(mine.map((row) => [row.conversation.id, row.change])).to.deep.equal([
        [b, 'message.created'],
        [a, 'conversation.status_changed'],
      ]);
      expect(mine[1]!.conversation, 'ids only: the poller sends ids').to.deep.equal({ id: a, clinicId });
      expect(mine[0]!.changedAt.getTime()).to.be.at.most(mine[1]!.changedAt.getTime());
      expect((await conversations.changedSince(new Date(Date.now() + 60_000), 1000)).filter((row) => row.conversation.clinicId === clinicId)).to.deep.equal([]);
    });

    it('when more changed than a page holds, then paging with the last row as `after` reads every change once, in (change time, id) order', async function () {
      const clinicId = newClinicId();
      const since = new Date(Date.now() - 1);
      const ids = Array.from({ length: 7 }, () => newId());
      for (const id of ids) {
        await conversations.recordRouted(routed({ clinicId, phone: newPhone() }), id);
      }
      const read: ChangedConversation[] = [];
      let after: ChangeKey | undefined;
      for (let page = 0; page < 100; page++) {
        const rows = await conversations.changedSince(since, 3, after);
        read.push(...rows);
        if (rows.length < 3) {
          break;
        }
        after = { changedAt: rows.at(-1)!.changedAt, id: rows.at(-1)!.conversation.id };
      }
      const mine = read.filter((row) => row.conversation.clinicId === clinicId).map((row) => row.conversation.id);
      expect([...mine].sort()).to.deep.equal([...ids].sort());
      const keys = read.map((row) => [row.changedAt.getTime(), row.conversation.id] as const);
      expect(new Set(keys.map((k) => k[1])).size, 'no change read twice').to.equal(keys.length);
      for (let i = 1; i < keys.length; i++) {
        const [prevAt, prevId] = keys[i - 1]!;
        const [at, id] = keys[i]!;
        expect(prevAt < at || (prevAt === at && prevId < id), `row ${i} in order`).to.equal(true);
      }
    });

    it('when a reader marks conversations read, then the marks only move forward and are per reader', async function () {
      const [a, b] = [newId(), newId()];
      await conversations.markRead('maria@x.example', a, at('2026-06-01T10:00:00Z'));
      await conversations.markRead('maria@x.example', a, at('2026-06-01T09:00:00Z'));
      await conversations.markRead('sam@x.example', b, at('2026-06-01T11:00:00Z'));
      expect(await conversations.readMarks('maria@x.example', [a, b])).to.deep.equal(new Map([[a, at('2026-06-01T10:00:00Z')]]));
      expect(await conversations.readMarks('sam@x.example', [a, b])).to.deep.equal(new Map([[b, at('2026-06-01T11:00:00Z')]]));
      expect(await conversations.readMarks('sam@x.example', [])).to.deep.equal(new Map());
    });
  });
}
