import { randomUUID } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { expect } from 'chai';
import request from 'supertest';
import type { AccessRecord } from '../../src/auth/access-log.js';
import { newId } from '../../src/conversations/conversation-service.js';
import { STATUS_CALLBACK_PATH } from '../../src/conversations/conversation-routes.js';
import { aMessage } from '../contract/store-fixtures.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { DOWNTOWN_ACCOUNT_SID, STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { AUTH_TOKEN, PUBLIC_BASE_URL, inboundParams, signedRequest, uniquePhone, WEBHOOK_PATH } from '../support/test-app.js';
import { formEncode, sign } from '../support/twilio-sign.js';

const BASE = '/v1/clinics/downtown/conversations';

/** Waits (polling every 5 ms, up to 5 s) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) {
      throw new Error('timed out waiting');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const READ = ['conversations:read'] as const;
const ALL = ['conversations:read', 'conversations:write'] as const;

for (const kind of STAFF_STORE_KINDS) {
  describe(`staff conversations API (${kind.name})`, function () {
    let t: StaffTestApp;
    let twilioFake: FakeTwilio;
    let key: string;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      twilioFake = await startFakeTwilio();
      t = await buildStaffApp(made, { twilioApiBaseUrl: twilioFake.baseUrl });
      key = t.key('downtown', [...ALL]);
    });

    after(async function () {
      await twilioFake?.close();
      await t?.dispose();
    });

    const api = () => request(t.app.callback());
    const auth = (k = key) => ({ Authorization: `Bearer ${k}` });

    /** A conversation for a fresh phone with one routed inbound message in the audit trail. */
    async function aConversation(options: { clinicId?: string; body?: string; at?: Date } = {}): Promise<{ id: string; phone: string; sid: string }> {
      const clinicId = options.clinicId ?? 'downtown';
      const phone = uniquePhone();
      const at = options.at ?? new Date();
      const record = aMessage({ clinicId, receivedAt: at, status: 'processed', rulesFired: ['route-questions'], actions: [{ type: 'route-to-staff', outcome: 'routed', ruleName: 'route-questions' }], reply: 'Thanks, the front desk will reply.' });
      record.message.from = phone;
      record.message.to = '+13125550100';
      record.message.body = options.body ?? 'Is my lab result in?';
      record.message.media = [{ url: `https://api.twilio.com/2010-04-01/Accounts/${DOWNTOWN_ACCOUNT_SID}/Messages/MM${'1'.repeat(32)}/Media/ME${'2'.repeat(32)}`, contentType: 'image/jpeg' }];
      await t.store.claimMessage(record);
      const id = newId('cv');
      await t.stores.conversations.recordRouted(
        { clinicId, phone, clinicNumber: '+13125550100', messageSid: record.messageSid, at, body: record.message.body, patients: [{ id: 'p-1', displayName: 'Ana Diaz' }] },
        id,
      );
      return { id, phone, sid: record.messageSid };
    }

    async function accessRecords(since: Date): Promise<AccessRecord[]> {
      const out: AccessRecord[] = [];
      for await (const r of t.stores.accessLog.list({ since, until: new Date(Date.now() + 60_000) })) {
        out.push(r);
      }
      return out;
    }

    describe('refusals', function () {
      it('when no key or a wrong key is sent, then 401 with WWW-Authenticate, and the access trail records the attempt', async function () {
        const since = new Date(Date.now() - 1);
        const none = await api().get(BASE);
        expect(none.status).to.equal(401);
        expect(none.headers['www-authenticate']).to.equal('Bearer');
        expect(none.body).to.deep.equal({ error: { code: 'UNAUTHORIZED', message: 'missing API key (Authorization: Bearer <key>)' } });
        const wrong = await api().get(BASE).set(auth(`${key.slice(0, -2)}xx`));
        expect(wrong.status).to.equal(401);
        expect((await api().get(BASE).set('Authorization', `Basic ${key}`)).status).to.equal(401);
        const trail = (await accessRecords(since)).filter((r) => r.status === 401);
        expect(trail.length).to.be.at.least(3);
        expect(trail[0]).to.include({ keyId: null, clinicId: 'downtown', method: 'GET', route: '/v1/clinics/:clinicId/conversations', conversationId: null });
      });

      it('when a read-only key writes, then 403 and nothing changes', async function () {
        const { id } = await aConversation();
        const readOnly = t.key('downtown', [...READ]);
        const res = await api().post(`${BASE}/${id}/status`).set(auth(readOnly)).send({ status: 'resolved' });
        expect(res.status).to.equal(403);
        expect(res.body.error.code).to.equal('FORBIDDEN');
        expect((await api().get(`${BASE}/${id}`).set(auth(readOnly))).body.conversation.status).to.equal('open');
      });

      it("when a key of another clinic asks, then 404, the same answer as for a clinic or conversation that does not exist", async function () {
        const { id } = await aConversation();
        const northside = t.key('northside', [...ALL]);
        const other = await api().get(`${BASE}/${id}`).set(auth(northside));
        const noClinic = await api().get(`/v1/clinics/nowhere/conversations/${id}`).set(auth(northside));
        const noConversation = await api().get(`/v1/clinics/northside/conversations/${newId('cv')}`).set(auth(northside));
        // Its own clinic's URL with the other clinic's conversation id.
        const crossId = await api().get(`/v1/clinics/northside/conversations/${id}`).set(auth(northside));
        for (const res of [other, noClinic, noConversation, crossId]) {
          expect(res.status).to.equal(404);
          expect(res.body).to.deep.equal({ error: { code: 'NOT_FOUND', message: 'not found' } });
        }
        expect((await api().post(`/v1/clinics/northside/conversations/${id}/replies`).set(auth(northside)).send({ text: 'hi' })).status).to.equal(404);
        expect(twilioFake.requests.filter((r) => r.params.To !== undefined && r.username !== DOWNTOWN_ACCOUNT_SID)).to.deep.equal([]);
      });

      it('when bodies or queries are bad, then 400 (or 415) with a short reason', async function () {
        const { id } = await aConversation();
        const sentBefore = twilioFake.requests.length;
        const cases: Array<[string, unknown, string]> = [
          ['status', { status: 'closed' }, 'status must be equal to one of the allowed values'],
          ['status', { status: 'resolved', extra: 1 }, 'unknown field "extra"'],
          ['status', { status: 'snoozed' }, 'snoozed needs snoozedUntil in the future'],
          ['status', { status: 'snoozed', snoozedUntil: 'tomorrow' }, 'snoozedUntil must be an ISO 8601 time with a zone, e.g. 2026-12-01T09:00:00Z'],
          ['status', { status: 'open', snoozedUntil: '2099-01-01T00:00:00Z' }, 'snoozedUntil goes only with status snoozed'],
          ['assignee', {}, 'assignee is required'],
          ['assignee', { assignee: 42 }, 'assignee must be string'],
          ['notes', { text: '   ' }, 'text must not be blank'],
          ['replies', { text: 'x'.repeat(1601) }, 'text must NOT have more than 1600 characters'],
          ['replies', [], 'body must be object'],
        ];
        for (const [route, body, reason] of cases) {
          const res = await api().post(`${BASE}/${id}/${route}`).set(auth()).send(body as object);
          expect(res.status, `${route} ${JSON.stringify(body)}`).to.equal(400);
          expect(res.body.error.message, `${route} ${JSON.stringify(body)}`).to.equal(reason);
        }
        const notJson = await api().post(`${BASE}/${id}/notes`).set(auth()).type('form').send('text=hi');
        expect(notJson.status).to.equal(415);
        const broken = await api().post(`${BASE}/${id}/notes`).set(auth()).set('Content-Type', 'application/json').send('{"text":');
        expect(broken.status).to.equal(400);
        for (const q of ['status=closed', 'limit=0', 'limit=101', 'limit=ten', 'cursor=bm9wZQ', 'status=open&status=resolved']) {
          expect((await api().get(`${BASE}?${q}`).set(auth())).status, q).to.equal(400);
        }
        expect(twilioFake.requests.length).to.equal(sentBefore);
      });

      it('when a note, reply or assignee holds a control character, a bidirectional override or a lone surrogate, then 400 says which, nothing is stored and nothing is sent', async function () {
        const { id } = await aConversation();
        const sentBefore = twilioFake.requests.length;
        const cases: Array<[string, object, string]> = [
          ['notes', { text: 'call back\u0000' }, 'text contains a control character (U+0000) at position 9'],
          ['replies', { text: '\u001b[2Jhello' }, 'text contains a control character (U+001B) at position 0'],
          ['replies', { text: 'see invoice \u202efdp.exe' }, 'text contains a bidirectional override (U+202E) at position 12'],
          ['replies', { text: 'ok \ud83d' }, 'text contains invalid UTF-16 (a lone surrogate U+D83D) at position 3'],
          ['assignee', { assignee: 'Maria\u2066' }, 'assignee contains a bidirectional override (U+2066) at position 5'],
        ];
        for (const [route, body, reason] of cases) {
          const res = await api().post(`${BASE}/${id}/${route}`).set(auth()).send(body);
          expect(res.status, `${route} ${JSON.stringify(body)}`).to.equal(400);
          expect(res.body.error, `${route} ${JSON.stringify(body)}`).to.deep.equal({ code: 'BAD_REQUEST', message: reason });
        }
        expect((await api().get(`${BASE}?assignee=${encodeURIComponent('Ana\u001b')}`).set(auth())).status).to.equal(400);
        expect(twilioFake.requests.length).to.equal(sentBefore);
        const thread = await api().get(`${BASE}/${id}`).set(auth());
        expect(thread.body.entries.map((e: { type: string }) => e.type)).to.deep.equal(['inbound']);
        expect(thread.body.conversation.assignee).to.equal(null);
        const ok = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Línea 1\nLínea 2\tfin 👍' });
        expect(ok.status).to.equal(201);
        expect(twilioFake.requests.at(-1)!.params.Body).to.equal('Línea 1\nLínea 2\tfin 👍');
      });

      it("when a patient's own text holds control or bidirectional characters, then the thread shows it as sent, JSON-escaped", async function () {
        const body = 'Hi\u0007 it is \u202eEVIL\u202c ok';
        const { id } = await aConversation({ body });
        const res = await api().get(`${BASE}/${id}`).set(auth());
        expect(res.status).to.equal(200);
        expect(res.body.entries[0].text).to.equal(body);
        expect(res.text).to.include('Hi\\u0007 it is');
      });
    });

    describe('reading', function () {
      it('when conversations are listed, then newest activity comes first with patients, preview and waitingSince, and the cursor pages through', async function () {
        const base = Date.now() + 3_600_000;
        const made = [];
        for (let i = 0; i < 3; i++) {
          made.push(await aConversation({ at: new Date(base + i * 1000), body: `question number ${i}` }));
        }
        const first = await api().get(`${BASE}?limit=2`).set(auth());
        expect(first.status).to.equal(200);
        expect(first.body.conversations.map((c: { id: string }) => c.id)).to.deep.equal([made[2]!.id, made[1]!.id]);
        expect(first.body.conversations[0]).to.deep.include({
          phone: made[2]!.phone,
          status: 'open',
          assignee: null,
          snoozedUntil: null,
          waitingSince: new Date(base + 2000).toISOString(),
          lastActivityAt: new Date(base + 2000).toISOString(),
          lastMessage: { direction: 'inbound', preview: 'question number 2', media: 0 },
          patients: [{ id: 'p-1', displayName: 'Ana Diaz' }],
        });
        const second = await api().get(`${BASE}?limit=2&cursor=${first.body.nextCursor as string}`).set(auth(t.key('downtown', [...READ])));
        expect(second.body.conversations[0].id).to.equal(made[0]!.id);
      });

      it('when a thread is read, then inbound messages carry what the rules did and media come as links to our media route', async function () {
        const { id, sid } = await aConversation();
        const res = await api().get(`${BASE}/${id}`).set(auth());
        expect(res.status).to.equal(200);
        expect(res.body.entries).to.have.length(1);
        expect(res.body.entries[0]).to.deep.include({
          type: 'inbound',
          id: sid,
          text: 'Is my lab result in?',
          handling: { status: 'processed', rulesFired: ['route-questions'], actions: [{ type: 'route-to-staff', outcome: 'routed', rule: 'route-questions' }], autoReply: 'Thanks, the front desk will reply.' },
        });
        expect(res.body.entries[0].media).to.deep.equal([{ id: `${sid}-0`, href: `/v1/clinics/downtown/media/${sid}-0`, contentType: 'image/jpeg', state: 'pending' }]);
        expect(JSON.stringify(res.body)).not.to.include('api.twilio.com');
      });
    });

    describe('changing', function () {
      it('when staff resolve, snooze, assign and unassign, then the list filters follow, and resolving ends the wait', async function () {
        const { id } = await aConversation();
        const assigned = await api().post(`${BASE}/${id}/assignee`).set(auth()).send({ assignee: 'Maria' });
        expect(assigned.status).to.equal(200);
        expect(assigned.body).to.include({ assignee: 'Maria' });
        expect((await api().get(`${BASE}?assignee=Maria`).set(auth())).body.conversations.map((c: { id: string }) => c.id)).to.include(id);
        const until = new Date(Date.now() + 86_400_000).toISOString();
        const snoozed = await api().post(`${BASE}/${id}/status`).set(auth()).send({ status: 'snoozed', snoozedUntil: until });
        expect(snoozed.body).to.include({ status: 'snoozed', snoozedUntil: until });
        expect((await api().get(`${BASE}?status=snoozed&limit=100`).set(auth())).body.conversations.map((c: { id: string }) => c.id)).to.include(id);
        const resolved = await api().post(`${BASE}/${id}/status`).set(auth()).send({ status: 'resolved' });
        expect(resolved.body).to.include({ status: 'resolved', waitingSince: null, snoozedUntil: null });
        expect((await api().get(`${BASE}?status=open&limit=100`).set(auth())).body.conversations.map((c: { id: string }) => c.id)).not.to.include(id);
        expect((await api().post(`${BASE}/${id}/assignee`).set(auth()).send({ assignee: null })).body.assignee).to.equal(null);
      });

      it('when a note is written, then it is in the thread (never sent) and is the newest activity', async function () {
        const { id } = await aConversation();
        const res = await api().post(`${BASE}/${id}/notes`).set(auth()).send({ text: 'Called, left a voicemail' });
        expect(res.status).to.equal(201);
        expect(res.body).to.include({ type: 'note', text: 'Called, left a voicemail', author: t.keys[0]!.id });
        const thread = await api().get(`${BASE}/${id}`).set(auth());
        expect(thread.body.entries.map((e: { type: string }) => e.type)).to.deep.equal(['inbound', 'note']);
        expect(thread.body.conversation.lastMessage).to.deep.equal({ direction: 'note', preview: 'Called, left a voicemail', media: 0 });
        expect(twilioFake.requests.filter((r) => r.params.Body === 'Called, left a voicemail')).to.deep.equal([]);
      });
    });

    describe('replies', function () {
      it("when staff reply, then Twilio's Messages API gets it from the clinic number with the account's Basic auth and a StatusCallback, and the thread shows it", async function () {
        const { id, phone } = await aConversation();
        const before = twilioFake.requests.length;
        const res = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Your results are in; the doctor will call today.' });
        expect(res.status).to.equal(201);
        const sent = twilioFake.requests.slice(before);
        expect(sent).to.have.length(1);
        expect(sent[0]).to.deep.include({ method: 'POST', path: `/2010-04-01/Accounts/${DOWNTOWN_ACCOUNT_SID}/Messages.json`, username: DOWNTOWN_ACCOUNT_SID, password: AUTH_TOKEN });
        expect(sent[0]!.params).to.deep.equal({ From: '+13125550100', To: phone, Body: 'Your results are in; the doctor will call today.', StatusCallback: `${PUBLIC_BASE_URL}${STATUS_CALLBACK_PATH}` });
        expect(res.body).to.include({ type: 'outbound', deliveryStatus: 'queued', author: t.keys[0]!.id });
        expect(res.body.twilioSid).to.match(/^SM[0-9a-f]{32}$/);
        const thread = await api().get(`${BASE}/${id}`).set(auth());
        expect(thread.body.entries.map((e: { type: string }) => e.type)).to.deep.equal(['inbound', 'outbound']);
        expect(thread.body.conversation).to.include({ waitingSince: null });
        expect(thread.body.conversation.lastMessage.direction).to.equal('outbound');
      });

      it('when the number opted out, then 409 and nothing is sent', async function () {
        const { id, phone } = await aConversation();
        await t.store.setOptOut({ clinicId: 'downtown', phone, optedOut: true, changedAt: new Date(), keyword: 'STOP' });
        const before = twilioFake.requests.length;
        const res = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'hello' });
        expect(res.status).to.equal(409);
        expect(res.body.error.code).to.equal('OPTED_OUT');
        expect(twilioFake.requests.length).to.equal(before);
        expect((await api().get(`${BASE}/${id}`).set(auth())).body.entries.map((e: { type: string }) => e.type)).to.deep.equal(['inbound']);
      });

      it('when a STOP arrives while a reply to the number is in flight, then a reply queued behind it is not sent (409) and the thread keeps only the sent one', async function () {
        const { id, phone } = await aConversation();
        const release = twilioFake.hold();
        const before = twilioFake.requests.length;
        const first = api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Reply number one' }).then((r) => r);
        await until(() => twilioFake.requests.length === before + 1);
        const second = api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Reply number two' }).then((r) => r);
        // The second reply has passed its first opt-out check once its entry is stored.
        await until(async () => (await t.stores.conversations.entries(id, 10)).length === 2);
        const stop = inboundParams({ From: phone, To: '+13125550100', Body: 'STOP' });
        const signed = signedRequest(stop);
        const stopped = await api().post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signed.signature).send(signed.body);
        expect(stopped.status).to.equal(200);
        expect((await t.store.getOptOut('downtown', phone))?.optedOut).to.equal(true);
        release();
        const [a, b] = [await first, await second];
        expect(a.status).to.equal(201);
        expect(b.status).to.equal(409);
        expect(b.body.error.code).to.equal('OPTED_OUT');
        expect(twilioFake.requests.slice(before).map((r) => r.params.Body)).to.deep.equal(['Reply number one']);
        const thread = await api().get(`${BASE}/${id}`).set(auth());
        expect(thread.body.entries.filter((e: { type: string }) => e.type === 'outbound').map((e: { text: string }) => e.text)).to.deep.equal(['Reply number one']);
      });

      it('when a reply is repeated with the same Idempotency-Key, then Twilio gets it once and the repeat gets the first answer; another text under that key is refused', async function () {
        const { id } = await aConversation();
        const idem = randomUUID();
        const before = twilioFake.requests.length;
        const first = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'See you at 3' });
        const again = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'See you at 3' });
        expect(first.status).to.equal(201);
        expect(again.status).to.equal(201);
        expect(again.headers['idempotent-replayed']).to.equal('true');
        expect(again.body).to.deep.equal(first.body);
        expect(twilioFake.requests.length - before).to.equal(1);
        const other = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'See you at 4' });
        expect(other.status).to.equal(409);
        expect(other.body.error.code).to.equal('IDEMPOTENCY_CONFLICT');
        expect((await api().get(`${BASE}/${id}`).set(auth())).body.entries.filter((e: { type: string }) => e.type === 'outbound')).to.have.length(1);
      });

      it('when Twilio refuses, then 502 (or 409 for its unsubscribed-recipient error), nothing is recorded, and the same key may try again', async function () {
        const { id } = await aConversation();
        twilioFake.answers.push({ status: 500, body: { code: 20500, message: 'Internal Server Error', status: 500 } });
        const idem = randomUUID();
        const failed = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'hello' });
        expect(failed.status).to.equal(502);
        expect(failed.body).to.deep.equal({ error: { code: 'TWILIO_FAILED', message: 'internal error' } });
        twilioFake.answers.push({ status: 400, body: { code: 21610, message: 'Attempt to send to unsubscribed recipient', status: 400 } });
        expect((await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'hello' })).status).to.equal(409);
        expect((await api().get(`${BASE}/${id}`).set(auth())).body.entries.map((e: { type: string }) => e.type)).to.deep.equal(['inbound']);
        expect((await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'hello' })).status).to.equal(201);
      });

      it("when Twilio posts a signed delivery status, then the reply's status moves forward; unsigned or wrongly signed callbacks are refused", async function () {
        const { id } = await aConversation();
        const sent = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'ok' });
        const sid = sent.body.twilioSid as string;
        const callback = (status: string, token = AUTH_TOKEN) => {
          const params = { MessageSid: sid, SmsSid: sid, MessageStatus: status, AccountSid: DOWNTOWN_ACCOUNT_SID, From: '+13125550100', To: '+13125550111', ApiVersion: '2010-04-01' };
          return api()
            .post(STATUS_CALLBACK_PATH)
            .type('form')
            .set('X-Twilio-Signature', sign(token, `${PUBLIC_BASE_URL}${STATUS_CALLBACK_PATH}`, params))
            .send(formEncode(params));
        };
        expect((await callback('delivered')).status).to.equal(204);
        expect((await callback('sent')).status).to.equal(204);
        expect((await callback('failed', 'not-the-token')).status).to.equal(403);
        expect((await api().post(STATUS_CALLBACK_PATH).type('form').send(formEncode({ MessageSid: sid, MessageStatus: 'failed' }))).status).to.equal(400);
        const outbound = (await api().get(`${BASE}/${id}`).set(auth())).body.entries.find((e: { type: string }) => e.type === 'outbound');
        expect(outbound).to.include({ twilioSid: sid, deliveryStatus: 'delivered' });
      });
    });

    it('when a staff API body or a status callback comes with Content-Encoding (gzip, corrupt or not), then 415 with a reason, never a 5xx, and nothing changes', async function () {
      const { id, sid } = await aConversation();
      const sentBefore = twilioFake.requests.length;
      const json = Buffer.from(JSON.stringify({ text: 'hello there' }));
      for (const [encoding, body] of [
        ['gzip', gzipSync(json)],
        ['gzip', Buffer.from('not gzip at all')],
        ['deflate', deflateSync(json)],
        ['br', json],
      ] as const) {
        for (const route of ['notes', 'replies']) {
          const res = await api().post(`${BASE}/${id}/${route}`).set(auth()).set('Content-Type', 'application/json').set('Content-Encoding', encoding).send(body);
          expect(res.status, `${route} ${encoding}`).to.equal(415);
          expect(res.body.error, `${route} ${encoding}`).to.deep.equal({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Encoding is not accepted: send the body uncompressed' });
        }
      }
      const form = formEncode({ MessageSid: sid, MessageStatus: 'failed' });
      const callback = await api().post(STATUS_CALLBACK_PATH).type('form').set('Content-Encoding', 'gzip').send(gzipSync(Buffer.from(form)));
      expect(callback.status).to.equal(415);
      expect(twilioFake.requests.length).to.equal(sentBefore);
      expect((await api().get(`${BASE}/${id}`).set(auth())).body.entries.map((e: { type: string }) => e.type)).to.deep.equal(['inbound']);
      expect(t.logs.text()).not.to.include('request failed');
    });

    it('when any staff API route answers, refusals and errors included, then it carries no-store, nosniff and the other security headers', async function () {
      const { id, sid } = await aConversation();
      const answers = [
        await api().get(BASE).set(auth()),
        await api().get(`${BASE}/${id}`).set(auth()),
        await api().post(`${BASE}/${id}/status`).set(auth()).send({ status: 'pending' }),
        await api().post(`${BASE}/${id}/assignee`).set(auth()).send({ assignee: 'Maria' }),
        await api().post(`${BASE}/${id}/notes`).set(auth()).send({ text: 'called' }),
        await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'hello' }),
        await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: '' }),
        await api().get(BASE),
        await api().get(`${BASE}/cv_${'0'.repeat(32)}`).set(auth()),
        await api().get('/v1/clinics/northside/conversations').set(auth()),
        await api().get('/v1/openapi.json'),
        await api().post(STATUS_CALLBACK_PATH).type('form').send(formEncode({ MessageSid: sid, MessageStatus: 'sent' })),
      ];
      for (const res of answers) {
        const what = `${res.status} ${res.request.method} ${res.request.url}`;
        expect(res.headers['cache-control'], what).to.equal('no-store');
        expect(res.headers['x-content-type-options'], what).to.equal('nosniff');
        expect(res.headers['content-security-policy'], what).to.equal("default-src 'none'; frame-ancestors 'none'");
        expect(res.headers['x-frame-options'], what).to.equal('DENY');
        expect(res.headers['referrer-policy'], what).to.equal('no-referrer');
        expect(res.headers['cross-origin-resource-policy'], what).to.equal('same-origin');
      }
    });

    it("when a client sends its own X-Request-Id, then the record's requestId is the server's own and the client's is kept beside it; the user agent and address are recorded", async function () {
      const since = new Date(Date.now() - 1);
      const res = await api().get(BASE).set(auth()).set('X-Request-Id', 'copied-id-123').set('User-Agent', 'FrontDesk/2.1');
      expect(res.status).to.equal(200);
      expect(res.headers['x-request-id']).to.not.equal('copied-id-123');
      const record = (await accessRecords(since)).find((r) => r.clientRequestId === 'copied-id-123');
      expect(record).to.not.equal(undefined);
      expect(record!.requestId).to.equal(res.headers['x-request-id']);
      expect(record!.requestId).to.match(/^[0-9a-f-]{36}$/);
      expect(record!.userAgent).to.equal('FrontDesk/2.1');
    });

    it('when a well-formed but revoked key is refused, then its record names the key id', async function () {
      const since = new Date(Date.now() - 1);
      const revoked = t.key('downtown', ['conversations:read']);
      const entry = t.keys.at(-1)!;
      t.ring.swap(t.keys.map((k) => (k.id === entry.id ? { ...k, revoked: true } : k)));
      try {
        expect((await api().get(BASE).set(auth(revoked))).status).to.equal(401);
        const refused = (await accessRecords(since)).filter((r) => r.status === 401);
        expect(refused.map((r) => [r.keyId, r.who])).to.deep.equal([[entry.id, { kind: 'api-key', keyId: entry.id }]]);
        // A wrong secret under that id proves nothing: no key id.
        const forged = `${revoked.slice(0, -4)}AAAA`;
        expect((await api().get(BASE).set(auth(forged))).status).to.equal(401);
        expect((await accessRecords(since)).filter((r) => r.status === 401).map((r) => r.keyId)).to.deep.equal([entry.id, null]);
      } finally {
        t.ring.swap(t.keys);
      }
    });

    it('when staff use every route, then each request leaves an access record (key, clinic, route, conversation, status), and no log line holds a phone number, name or text', async function () {
      const since = new Date(Date.now() - 1);
      const { id, phone } = await aConversation({ body: 'My rash is worse, Ana Diaz here' });
      await api().get(BASE).set(auth());
      await api().get(`${BASE}/${id}`).set(auth());
      await api().post(`${BASE}/${id}/status`).set(auth()).send({ status: 'pending' });
      await api().post(`${BASE}/${id}/assignee`).set(auth()).send({ assignee: 'Maria Lopez' });
      await api().post(`${BASE}/${id}/notes`).set(auth()).send({ text: 'Patient Ana Diaz called about rash' });
      await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Please come in today, Ana' });
      await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: '' });
      const trail = (await accessRecords(since)).filter((r) => r.keyId === t.keys[0]!.id);
      expect(trail.map((r) => `${r.method} ${r.route} ${r.status} ${r.conversationId ?? '-'}`)).to.deep.equal([
        `GET /v1/clinics/:clinicId/conversations 200 -`,
        `GET /v1/clinics/:clinicId/conversations/:id 200 ${id}`,
        `POST /v1/clinics/:clinicId/conversations/:id/status 200 ${id}`,
        `POST /v1/clinics/:clinicId/conversations/:id/assignee 200 ${id}`,
        `POST /v1/clinics/:clinicId/conversations/:id/notes 201 ${id}`,
        `POST /v1/clinics/:clinicId/conversations/:id/replies 201 ${id}`,
        `POST /v1/clinics/:clinicId/conversations/:id/replies 400 ${id}`,
      ]);
      const list = trail[0]!;
      expect(list.conversationIds).to.include(id);
      for (const r of trail) {
        expect(r.clientAddress, r.route).to.match(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
        expect(r, r.route).to.have.property('userAgent');
        expect(r.who).to.deep.equal({ kind: 'api-key', keyId: t.keys[0]!.id });
      }
      const logged = t.logs.text();
      expect(logged).to.include(id);
      for (const secret of [phone, phone.slice(2), 'rash', 'Ana', 'Diaz', 'Maria', 'voicemail', 'Please come in', key]) {
        expect(logged, secret).not.to.include(secret);
      }
    });
  });
}
