import { expect } from 'chai';
import request from 'supertest';
import { createRequestMix, formEncode, type MixTarget, type SignedRequest } from '../../../bench/lib/request-mix.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { AUTH_TOKEN, WEBHOOK_PATH, WEBHOOK_URL, addPatient, closingTestApps } from '../../support/test-app.js';
import { ACCOUNT_SID } from '../../support/twilio-sign.js';

function target(patients: Array<{ to: string; phone: string }>): MixTarget {
  return { url: WEBHOOK_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, clinicNumbers: ['+13125550100'], patients, extraKeywords: ['HOURS'] };
}

describe('bench request mix', () => {
  const buildTestApp = closingTestApps();
  it('when the bench form-encodes params, then they keep their order and are escaped', () => {
    const params = { Body: 'CONFIRM', From: '+13125550134', To: '+13125550100', MessageSid: 'SM0123', NumMedia: '0' };
    expect(formEncode(params)).to.equal('Body=CONFIRM&From=%2B13125550134&To=%2B13125550100&MessageSid=SM0123&NumMedia=0');
  });

  it('when many requests are made, then every MessageSid is fresh except the deliberate duplicates, and every kind occurs', () => {
    const mix = createRequestMix(target([{ to: '+13125550100', phone: '+13125550134' }]), { seed: 1, duplicateLag: 20 });
    const seen = new Map<string, SignedRequest>();
    for (let i = 0; i < 2000; i++) {
      const r = mix.next();
      const first = seen.get(r.messageSid);
      if (r.kind === 'duplicate') {
        expect(first, 'a duplicate repeats an earlier request').to.not.equal(undefined);
        expect(r.body).to.equal(first?.body);
        expect(r.signature).to.equal(first?.signature);
      } else {
        expect(first, `fresh MessageSid ${r.messageSid}`).to.equal(undefined);
        seen.set(r.messageSid, r);
      }
    }
    for (const kind of ['keyword', 'free-text', 'unknown-number', 'media', 'duplicate', 'extra-keyword'] as const) {
      expect(mix.counts[kind], kind).to.be.greaterThan(0);
    }
  });

  it('when the real app receives the mix, then it accepts every request (signed, 200 TwiML) and answers a duplicate with the first reply', async () => {
    const store = new MemoryStore();
    const t = await buildTestApp({ store });
    const patients: Array<{ to: string; phone: string }> = [];
    for (let i = 0; i < 30; i++) {
      const phone = `+1312777${String(1000 + i)}`;
      await addPatient(store, { phone, firstName: `P${i}` }, [{ startsAt: new Date(Date.now() + (i + 1) * 86_400_000) }]);
      patients.push({ to: '+13125550100', phone });
    }
    const mix = createRequestMix(target(patients), { seed: 2, duplicateLag: 10, shares: { duplicate: 0.1 } });
    const replies = new Map<string, string>();
    const kinds = new Set<string>();
    for (let i = 0; i < 80; i++) {
      const r = mix.next();
      kinds.add(r.kind);
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', r.signature).send(r.body);
      expect(res.status, `${r.kind} request ${i}`).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/xml/);
      if (r.kind === 'duplicate') {
        expect(res.text).to.equal(replies.get(r.messageSid));
      } else {
        replies.set(r.messageSid, res.text);
      }
    }
    expect([...kinds]).to.include.members(['keyword', 'free-text', 'unknown-number', 'duplicate']);
    const failures = t.logs.records().filter((rec) => rec.msg === 'request failed');
    expect(failures).to.deep.equal([]);
  });
});
