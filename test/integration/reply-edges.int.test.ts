import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { newId } from '../../src/conversations/conversation-service.js';
import { AppError } from '../../src/errors.js';
import { createTwilioSender } from '../../src/conversations/twilio-messages.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { DOWNTOWN_ACCOUNT_SID, STAFF_STORE_KINDS, aRoutedConversation, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';

const BASE = '/v1/clinics/downtown/conversations';
const DOWNTOWN_NUMBER = '+13125550100';
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The fixture clinics with downtown's reply limits set low. */
function clinicsWithLimits(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clinics-limits-'));
  const file = join(dir, 'clinics.yaml');
  const yaml = readFileSync('test/fixtures/clinics.yaml', 'utf8').replace('    rateLimitPerMinute: 5\n', '    rateLimitPerMinute: 5\n    replyMaxSegments: 3\n    repliesPerKeyPerMinute: 4\n');
  writeFileSync(file, yaml);
  return file;
}

for (const kind of STAFF_STORE_KINDS) {
  describe(`staff replies: edge cases (${kind.name})`, function () {
    let t: StaffTestApp;
    let twilioFake: FakeTwilio;
    let key: string;
    let now = new Date();

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      twilioFake = await startFakeTwilio();
      t = await buildStaffApp(
        made,
        { twilioApiBaseUrl: twilioFake.baseUrl, clinicsFile: clinicsWithLimits() },
        { sender: createTwilioSender({ baseUrl: twilioFake.baseUrl, timeoutMs: 300 }), staffClock: () => now },
      );
    });

    beforeEach(function () {
      // The staff API's clock stands still during a test (no minute ends halfway through the per-key count).
      now = new Date();
      // A key of its own for each test (the per-key limit counts per minute).
      key = t.key('downtown', ['conversations:read', 'conversations:write']);
    });

    after(async function () {
      await twilioFake?.close();
      await t?.dispose();
    });

    const api = () => request(t.app.callback());
    const auth = (k = key) => ({ Authorization: `Bearer ${k}` });

    const aConversation = (): Promise<{ id: string; phone: string }> => aRoutedConversation(t, DOWNTOWN_NUMBER);

    const posts = (phone: string) => twilioFake.requests.filter((r) => r.method === 'POST' && r.params.To === phone);

    it('when Twilio does not answer in time, then 504 says the reply may have gone out, the entry stays, and a retry with the same key finds the message in Twilio\'s list instead of texting twice', async function () {
      const { id, phone } = await aConversation();
      const idem = randomUUID();
      const release = twilioFake.hold();
      const first = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'Your test results are ready.' });
      release();
      expect(first.status).to.equal(504);
      expect(first.body.error.code).to.equal('TWILIO_TIMEOUT');
      const pending = (await api().get(`${BASE}/${id}`).set(auth())).body.entries.filter((e: { type: string }) => e.type === 'outbound');
      expect(pending.map((e: { deliveryStatus: string }) => e.deliveryStatus)).to.deep.equal(['sending-requested']);
      const retry = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'Your test results are ready.' });
      expect(retry.status).to.equal(201);
      expect(retry.headers['idempotent-replayed']).to.equal('true');
      const taken = twilioFake.messages.filter((m) => m.to === phone);
      expect(taken).to.have.length(1);
      expect(retry.body).to.include({ twilioSid: taken[0]!.sid, deliveryStatus: 'queued' });
      expect(posts(phone)).to.have.length(1);
    });

    it('when a crash left a reply pending past its lease, then a retry with the same key asks Twilio, finds nothing, and sends it once', async function () {
      const { id, phone } = await aConversation();
      const idem = randomUUID();
      const text = 'Please call us back.';
      const at = new Date(now.getTime() - 5 * 60_000);
      // What a process that died between storing the reply and Twilio's answer leaves behind.
      await t.stores.conversations.addEntry({
        id: newId('en'),
        conversationId: id,
        clinicId: 'downtown',
        kind: 'outbound',
        text,
        at,
        author: t.keys.at(-1)!.id,
        accountSid: DOWNTOWN_ACCOUNT_SID,
        delivery: { rank: 0, status: 'sending-requested', at },
        idempotency: { key: sha256(idem), request: sha256(`${id}\n${text}`) },
      });
      const retry = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text });
      expect(retry.status).to.equal(201);
      expect(posts(phone).map((r) => r.params.Body)).to.deep.equal([text]);
      const again = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text });
      expect(again.status).to.equal(201);
      expect(again.body.twilioSid).to.equal(retry.body.twilioSid);
      expect(posts(phone)).to.have.length(1);
    });

    it('when a reply is pending within its lease, then a retry with the same key is told it is in progress (409), with Retry-After', async function () {
      const { id, phone } = await aConversation();
      const idem = randomUUID();
      const release = twilioFake.hold();
      const first = api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'one moment' }).then((r) => r);
      while (posts(phone).length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const second = await api().post(`${BASE}/${id}/replies`).set(auth()).set('Idempotency-Key', idem).send({ text: 'one moment' });
      release();
      await first;
      expect(second.status).to.equal(409);
      expect(second.body.error.code).to.equal('IDEMPOTENCY_CONFLICT');
      expect(Number(second.headers['retry-after'])).to.be.within(1, 60);
    });

    it("when a reply is longer than the clinic's segment cap, then 400 says how many segments it is and the cap, and nothing is sent", async function () {
      const { id, phone } = await aConversation();
      const res = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Ωμέγα ✓ '.repeat(30) });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.deep.equal({ code: 'BAD_REQUEST', message: 'text is 4 SMS segments (UCS-2); this clinic allows at most 3 per reply' });
      expect((await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'a'.repeat(459) })).status).to.equal(201);
      expect(posts(phone)).to.have.length(1);
    });

    it('when one key sends more replies in a minute than the clinic allows, then 429 with Retry-After, and another key is not held back', async function () {
      const { id, phone } = await aConversation();
      for (let i = 0; i < 4; i++) {
        expect((await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: `reply ${i}` })).status).to.equal(201);
      }
      const over = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'reply 4' });
      expect(over.status).to.equal(429);
      expect(over.body.error).to.deep.equal({ code: 'TOO_MANY_REQUESTS', message: 'this key sent 4 replies this minute, the most this clinic allows; try again shortly' });
      expect(Number(over.headers['retry-after'])).to.be.within(1, 60);
      const other = t.key('downtown', ['conversations:read', 'conversations:write']);
      // Whatever minute this ran in, the next key is counted apart.
      expect((await api().post(`${BASE}/${id}/replies`).set(auth(other)).send({ text: 'from the other desk' })).status).to.equal(201);
      expect(posts(phone)).to.have.length(5);
    });

    it('when the access record cannot be written after a reply went out, then the caller still learns the truth (201 with the entry) and the failure is logged; a read is refused', async function () {
      const { id, phone } = await aConversation();
      const append = t.stores.accessLog.append.bind(t.stores.accessLog);
      t.stores.accessLog.append = async () => {
        throw new AppError('STORE_UNAVAILABLE', 'database unavailable during accessLog.append');
      };
      try {
        const res = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'We moved your visit to 3pm.' });
        expect(res.status).to.equal(201);
        expect(res.body).to.include({ type: 'outbound', text: 'We moved your visit to 3pm.' });
        expect(posts(phone)).to.have.length(1);
        expect(t.logs.text()).to.include('access record not written');
        expect((await api().get(`${BASE}/${id}`).set(auth())).status).to.equal(503);
      } finally {
        t.stores.accessLog.append = append;
      }
    });
  });
}
