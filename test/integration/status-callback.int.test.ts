import { expect } from 'chai';
import request from 'supertest';
import { STATUS_CALLBACK_PATH } from '../../src/conversations/conversation-routes.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { DOWNTOWN_ACCOUNT_SID, STAFF_STORE_KINDS, aRoutedConversation, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, PUBLIC_BASE_URL } from '../support/test-app.js';
import { formEncode, sign } from '../support/twilio-sign.js';

const BASE = '/v1/clinics/downtown/conversations';
const NORTHSIDE_ACCOUNT_SID = 'ACabcdefabcdefabcdefabcdefabcdefab';
const DOWNTOWN_NUMBER = '+13125550100';
const NORTHSIDE_NUMBER = '+13125550300';

for (const kind of STAFF_STORE_KINDS) {
  describe(`Twilio status callback matching (${kind.name})`, function () {
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
      key = t.key('downtown', ['conversations:read', 'conversations:write']);
    });

    after(async function () {
      await twilioFake?.close();
      await t?.dispose();
    });

    const api = () => request(t.app.callback());
    const auth = () => ({ Authorization: `Bearer ${key}` });

    /** A downtown reply that Twilio took; its SID. */
    async function aDowntownReply(): Promise<{ id: string; sid: string }> {
      const { id } = await aRoutedConversation(t, DOWNTOWN_NUMBER);
      const sent = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'We got your message.' });
      expect(sent.status).to.equal(201);
      return { id, sid: sent.body.twilioSid as string };
    }

    /** Posts a status callback signed with `token`, as Twilio signs it. */
    function callback(sid: string, status: string, options: { token: string; accountSid: string; from: string; errorCode?: string }) {
      const params: Record<string, string> = { MessageSid: sid, SmsSid: sid, MessageStatus: status, AccountSid: options.accountSid, From: options.from, To: '+13125550111', ApiVersion: '2010-04-01' };
      if (options.errorCode) {
        params.ErrorCode = options.errorCode;
      }
      return api()
        .post(STATUS_CALLBACK_PATH)
        .type('form')
        .set('X-Twilio-Signature', sign(options.token, `${PUBLIC_BASE_URL}${STATUS_CALLBACK_PATH}`, params))
        .send(formEncode(params));
    }
    const downtown = { token: AUTH_TOKEN, accountSid: DOWNTOWN_ACCOUNT_SID, from: DOWNTOWN_NUMBER };

    async function outbound(id: string): Promise<{ deliveryStatus: string; deliveryErrorCode: string | null; deliveryHistory: { status: string; errorCode: string | null }[] }> {
      const thread = await api().get(`${BASE}/${id}`).set(auth());
      return thread.body.entries.find((e: { type: string }) => e.type === 'outbound');
    }

    it("when another clinic's token signs a callback for this clinic's message, then the message's delivery status does not change", async function () {
      const { id, sid } = await aDowntownReply();
      expect((await callback(sid, 'delivered', downtown)).status).to.equal(204);
      // Northside's own number and account, its own valid signature, downtown's SID.
      expect((await callback(sid, 'failed', { token: NORTHSIDE_TOKEN, accountSid: NORTHSIDE_ACCOUNT_SID, from: NORTHSIDE_NUMBER, errorCode: '30007' })).status).to.equal(204);
      // A number no clinic owns: the token is picked by the account.
      expect((await callback(sid, 'read', { token: NORTHSIDE_TOKEN, accountSid: NORTHSIDE_ACCOUNT_SID, from: '+15555550123' })).status).to.equal(204);
      const entry = await outbound(id);
      expect(entry).to.include({ deliveryStatus: 'delivered', deliveryErrorCode: null });
      expect(entry.deliveryHistory.map((h) => h.status)).to.deep.equal(['queued', 'delivered']);
    });

    it("when the clinic's token signs a callback naming another account, then the message's delivery status does not change", async function () {
      const { id, sid } = await aDowntownReply();
      const otherAccount = `AC${'e'.repeat(32)}`;
      expect((await callback(sid, 'undelivered', { token: AUTH_TOKEN, accountSid: otherAccount, from: '+15555550123', errorCode: '30003' })).status).to.equal(204);
      expect(await outbound(id)).to.include({ deliveryStatus: 'queued' });
    });

    it('when a final status is reported, then no later status replaces it except read after delivered, and the history keeps every report', async function () {
      const { id, sid } = await aDowntownReply();
      await callback(sid, 'delivered', downtown);
      await callback(sid, 'undelivered', { ...downtown, errorCode: '30003' });
      await callback(sid, 'failed', { ...downtown, errorCode: '30007' });
      await callback(sid, 'sent', downtown);
      let entry = await outbound(id);
      expect(entry).to.include({ deliveryStatus: 'delivered', deliveryErrorCode: null });
      expect(entry.deliveryHistory.map((h) => `${h.status}${h.errorCode ? ` ${h.errorCode}` : ''}`)).to.deep.equal(['queued', 'delivered', 'undelivered 30003', 'failed 30007', 'sent']);
      await callback(sid, 'read', downtown);
      expect(await outbound(id)).to.include({ deliveryStatus: 'read' });

      const second = await aDowntownReply();
      await callback(second.sid, 'failed', { ...downtown, errorCode: '30007' });
      await callback(second.sid, 'delivered', downtown);
      await callback(second.sid, 'read', downtown);
      entry = await outbound(second.id);
      expect(entry).to.include({ deliveryStatus: 'failed', deliveryErrorCode: '30007' });
    });

    it('when Twilio sends failed after sent, then failed is the status and both are in the history', async function () {
      const { id, sid } = await aDowntownReply();
      await callback(sid, 'sent', downtown);
      await callback(sid, 'failed', { ...downtown, errorCode: '30008' });
      const entry = await outbound(id);
      expect(entry).to.include({ deliveryStatus: 'failed', deliveryErrorCode: '30008' });
      expect(entry.deliveryHistory.map((h) => h.status)).to.deep.equal(['queued', 'sent', 'failed']);
    });
  });
}
