import { expect } from 'chai';
import request from 'supertest';
import { MemoryFailedKeyAttempts } from '../../src/auth/failed-key-attempts.js';
import { STATUS_CALLBACK_PATH } from '../../src/conversations/conversation-routes.js';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { PUBLIC_BASE_URL, WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

const LIST = '/v1/clinics/downtown/conversations';
const BAD = 'Bearer csk.guess.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const MEMORY = STAFF_STORE_KINDS[0]!;

describe('failed API key attempts are limited per client address', function () {
  let t: StaffTestApp;
  let good: string;

  async function build(trustProxy: boolean): Promise<void> {
    const made = await MEMORY.make();
    t = await buildStaffApp(made!, { trustProxy }, { attempts: new MemoryFailedKeyAttempts({ maxFailures: 3, windowMs: 60_000 }) });
    good = t.key('downtown', ['conversations:read']);
  }

  afterEach(async () => {
    await t?.dispose();
  });

  const api = () => request(t.app.callback());

  describe('behind a trusted proxy (TRUST_PROXY=1)', function () {
    beforeEach(() => build(true));

    it('when one address sends bad keys past the limit, then it gets 429 with Retry-After, also with a good key, and another address with a good key is served', async () => {
      for (let i = 0; i < 3; i += 1) {
        expect((await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', '203.0.113.7')).status).to.equal(401);
      }
      const refused = await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', '203.0.113.7');
      expect(refused.status).to.equal(429);
      expect(Number(refused.headers['retry-after'])).to.be.within(1, 60);
      expect(refused.body).to.deep.equal({ error: { code: 'TOO_MANY_REQUESTS', message: 'too many failed API key attempts from this address; try again later' } });
      expect((await api().get(LIST).set('Authorization', `Bearer ${good}`).set('X-Forwarded-For', '203.0.113.7')).status).to.equal(429);
      expect((await api().get(LIST).set('Authorization', `Bearer ${good}`).set('X-Forwarded-For', '203.0.113.8')).status).to.equal(200);
    });

    it('when the client writes its own X-Forwarded-For entries before the proxy\'s, then they do not change its address', async () => {
      for (let i = 0; i < 3; i += 1) {
        await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', `10.9.9.${i}, 203.0.113.7`);
      }
      expect((await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', '10.1.1.1, 203.0.113.7')).status).to.equal(429);
    });

    it('when an address is refused on the staff API, then the Twilio webhook and the status callback from that address are still served', async () => {
      for (let i = 0; i < 4; i += 1) {
        await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', '203.0.113.7');
      }
      expect((await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', '203.0.113.7')).status).to.equal(429);
      const params = inboundParams({ From: uniquePhone(), Body: 'hello' });
      const { body, signature } = signedRequest(params);
      const webhook = await api()
        .post(WEBHOOK_PATH)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .set('X-Twilio-Signature', signature)
        .set('X-Forwarded-For', '203.0.113.7')
        .send(body);
      expect(webhook.status).to.equal(200);
      expect(webhook.text).to.include('<Response>');
      const status = { MessageSid: `SM${'a'.repeat(32)}`, MessageStatus: 'delivered', From: '+13125550100', AccountSid: `AC${'d'.repeat(32)}` };
      const callback = signedRequest(status, { url: `${PUBLIC_BASE_URL}${STATUS_CALLBACK_PATH}` });
      const res = await api()
        .post(STATUS_CALLBACK_PATH)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .set('X-Twilio-Signature', callback.signature)
        .set('X-Forwarded-For', '203.0.113.7')
        .send(callback.body);
      expect(res.status).to.equal(204);
    });

    it('when requests carry no Authorization header at all, then they are refused with 401 but never count toward the limit', async () => {
      for (let i = 0; i < 5; i += 1) {
        expect((await api().get(LIST).set('X-Forwarded-For', '203.0.113.9')).status).to.equal(401);
      }
      expect((await api().get(LIST).set('Authorization', `Bearer ${good}`).set('X-Forwarded-For', '203.0.113.9')).status).to.equal(200);
    });

    it('when a request is refused with 429, then the access trail records it', async () => {
      const since = new Date(Date.now() - 1);
      for (let i = 0; i < 4; i += 1) {
        await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', '203.0.113.7');
      }
      const statuses: number[] = [];
      for await (const r of t.stores.accessLog.list({ since, until: new Date(Date.now() + 1000) })) {
        statuses.push(r.status);
      }
      expect(statuses).to.deep.equal([401, 401, 401, 429]);
    });
  });

  describe('without a trusted proxy (TRUST_PROXY off)', function () {
    beforeEach(() => build(false));

    it('when bad keys come with changing X-Forwarded-For headers, then they all count against the connection\'s address', async () => {
      for (let i = 0; i < 3; i += 1) {
        expect((await api().get(LIST).set('Authorization', BAD).set('X-Forwarded-For', `198.51.100.${i}`)).status).to.equal(401);
      }
      expect((await api().get(LIST).set('Authorization', `Bearer ${good}`).set('X-Forwarded-For', '198.51.100.200')).status).to.equal(429);
    });
  });
});
