/**
 * The message pipeline and the staff conversations together, through the signed webhook
 * and the staff API, on both stores: what reaches staff (routed, unknown-number and
 * over-limit messages), what reopens a conversation, and what only joins its thread.
 */
import { expect } from 'chai';
import request from 'supertest';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

const BASE = '/v1/clinics/downtown/conversations';
const UNKNOWN = "We don't recognize this phone number. Please contact our office directly.";
/** test/fixtures/clinics.yaml: downtown answers 5 messages a minute per sender. */
const DOWNTOWN_LIMIT = 5;

interface ListedConversation {
  id: string;
  phone: string;
  status: string;
  waitingSince: string | null;
  lastMessage: { direction: string; preview: string; media: number };
  patients: { id: string; displayName: string }[];
}

interface ThreadEntry {
  type: string;
  id: string;
  text: string;
  handling?: { status: string; actions: { type: string; outcome: string }[]; autoReply: string | null };
}

for (const kind of STAFF_STORE_KINDS) {
  describe(`messages reaching staff conversations through the webhook (${kind.name})`, function () {
    let t: StaffTestApp;
    let key: string;
    /** Messages arrive 10 ms apart from the start of a minute, so a flood stays in one rate window and times are distinct. */
    let now = 0;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      now = Math.floor(Date.now() / 60_000) * 60_000;
      t = await buildStaffApp(made, {}, { clock: () => new Date((now += 10)) });
      key = t.key('downtown', ['conversations:read', 'conversations:write']);
    });

    after(async function () {
      await t?.dispose();
    });

    const api = () => request(t.app.callback());
    const auth = () => ({ Authorization: `Bearer ${key}` });

    async function text(from: string, body: string): Promise<{ reply: string; sid: string }> {
      const params = inboundParams({ From: from, Body: body });
      const { body: form, signature } = signedRequest(params);
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form);
      expect(res.status).to.equal(200);
      return { reply: res.text, sid: params.MessageSid as string };
    }

    async function listed(phone: string, status?: string): Promise<ListedConversation | undefined> {
      const res = await api().get(BASE).query({ limit: 100, ...(status ? { status } : {}) }).set(auth());
      expect(res.status).to.equal(200);
      return (res.body.conversations as ListedConversation[]).find((c) => c.phone === phone);
    }

    async function thread(id: string): Promise<{ conversation: ListedConversation; entries: ThreadEntry[] }> {
      const res = await api().get(`${BASE}/${id}`).set(auth());
      expect(res.status).to.equal(200);
      return res.body as { conversation: ListedConversation; entries: ThreadEntry[] };
    }

    async function setStatus(id: string, body: Record<string, string>): Promise<void> {
      expect((await api().post(`${BASE}/${id}/status`).set(auth()).send(body)).status).to.equal(200);
    }

    it('when a patient writes again after staff resolved or snoozed the conversation, then it is open again and waiting since the new message', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Ana', lastName: 'Diaz' });
      await text(phone, 'Is parking free?');
      const first = await listed(phone, 'open');
      expect(first).to.deep.include({ status: 'open', lastMessage: { direction: 'inbound', preview: 'Is parking free?', media: 0 } });
      expect(first?.patients.map((p) => p.displayName)).to.deep.equal(['Ana Diaz']);
      await setStatus(first!.id, { status: 'resolved' });
      expect(await listed(phone, 'open')).to.equal(undefined);

      await text(phone, 'Also, can I bring my son?');
      const reopened = await listed(phone, 'open');
      expect(reopened).to.deep.include({ id: first!.id, status: 'open', lastMessage: { direction: 'inbound', preview: 'Also, can I bring my son?', media: 0 } });
      expect(Date.parse(reopened!.waitingSince!)).to.be.greaterThan(Date.parse(first!.waitingSince!));

      await setStatus(first!.id, { status: 'snoozed', snoozedUntil: new Date(Date.now() + 86_400_000).toISOString() });
      expect(await listed(phone, 'open')).to.equal(undefined);
      await text(phone, 'Hello?');
      expect(await listed(phone, 'open')).to.deep.include({ id: first!.id, status: 'open' });
      expect((await thread(first!.id)).entries.map((e) => e.text)).to.deep.equal(['Is parking free?', 'Also, can I bring my son?', 'Hello?']);
    });

    it('when an unknown number texts, then the reply is the seed text and the message is in the open list with what was done', async function () {
      const phone = uniquePhone();
      const { reply, sid } = await text(phone, 'Hi, I am a new patient');
      expect(reply).to.contain(UNKNOWN);

      const conversation = await listed(phone, 'open');
      expect(conversation).to.deep.include({ status: 'open', patients: [], lastMessage: { direction: 'inbound', preview: 'Hi, I am a new patient', media: 0 } });
      const { entries } = await thread(conversation!.id);
      expect(entries.map((e) => [e.type, e.id, e.handling?.status, e.handling?.autoReply])).to.deep.equal([['inbound', sid, 'unknown-number', UNKNOWN]]);
    });

    it('when an unknown number sends STOP, then it is answered and no conversation opens', async function () {
      const phone = uniquePhone();
      expect((await text(phone, 'STOP')).reply).to.contain('unsubscribed');
      expect(await listed(phone)).to.equal(undefined);
    });

    it('when a patient texts over the rate limit, then each unanswered message is its own thread entry and the conversation is open', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone });
      const sent = [];
      for (let i = 0; i < DOWNTOWN_LIMIT + 2; i += 1) {
        sent.push(await text(phone, `question ${i}`));
      }
      expect(sent.slice(DOWNTOWN_LIMIT).every((s) => !s.reply.includes('<Message>'))).to.equal(true);

      const conversation = await listed(phone, 'open');
      expect(conversation).to.deep.include({ status: 'open', lastMessage: { direction: 'inbound', preview: `question ${DOWNTOWN_LIMIT + 1}`, media: 0 } });
      const { entries } = await thread(conversation!.id);
      expect(entries.map((e) => [e.id, e.handling?.status, e.handling?.autoReply === null])).to.deep.equal(
        sent.map((s, i) => [s.sid, i < DOWNTOWN_LIMIT ? 'processed' : 'rate-limited', i >= DOWNTOWN_LIMIT]),
      );
    });

    it('when a patient sends CONFIRM to a resolved conversation, then it stays resolved and out of the open list, and the CONFIRM is in its thread', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone }, [{ startsAt: new Date(Date.now() + 2 * 86_400_000) }]);
      await text(phone, 'Do I need to fast before?');
      const conversation = (await listed(phone, 'open'))!;
      await setStatus(conversation.id, { status: 'resolved' });

      const confirm = await text(phone, 'CONFIRM');
      expect(confirm.reply).to.contain('is confirmed');

      expect(await listed(phone, 'open')).to.equal(undefined);
      expect(await listed(phone)).to.deep.include({ id: conversation.id, status: 'resolved', waitingSince: null, lastMessage: { direction: 'inbound', preview: 'Do I need to fast before?', media: 0 } });
      const { entries } = await thread(conversation.id);
      const last = entries.at(-1);
      expect(last).to.deep.include({ type: 'inbound', id: confirm.sid, text: 'CONFIRM' });
      expect(last?.handling?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['confirm-appointment:confirmed']);
    });

    it('when a patient with no conversation sends CONFIRM or HELP, then no conversation is created', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone }, [{ startsAt: new Date(Date.now() + 2 * 86_400_000) }]);
      await text(phone, 'CONFIRM');
      await text(phone, 'HELP');
      expect(await listed(phone)).to.equal(undefined);
    });
  });
}
