/**
 * Plain-language opt-outs (issue 26, part 2) as a table test: every phrase of
 * test/fixtures/revocation-corpus.yaml through the signed webhook, on the shipped rules
 * (fixture copy), on both stores. clear must opt the number out with the one confirmation
 * (consent event via phrase, or keyword when the text starts with STOP or a variant);
 * possible must reach staff marked as a possible opt-out (thread, list, message.routed
 * event) with no automatic text; none must change nothing about consent.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import request from 'supertest';
import { parse } from 'yaml';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

interface CorpusCase {
  text: string;
  lang: 'en' | 'es';
  expect: 'clear' | 'possible' | 'none';
}

const CORPUS = (parse(readFileSync('test/fixtures/revocation-corpus.yaml', 'utf8')) as { cases: CorpusCase[] }).cases;
const BASE = '/v1/clinics/downtown/conversations';

for (const kind of STAFF_STORE_KINDS) {
  describe(`plain-language opt-outs: the corpus through the webhook (${kind.name})`, function () {
    let t: StaffTestApp;
    let key: string;
    const found: Array<{ expected: string; actual: string }> = [];

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      t = await buildStaffApp(made);
      key = t.key('downtown', ['conversations:read']);
    });

    after(async function () {
      await t?.dispose();
      if (found.length === CORPUS.length) {
        report(kind.name, found);
      }
    });

    it(`when the corpus holds at least 100 phrases, English and Spanish, each kind, then it is a fair test`, function () {
      expect(CORPUS.length).to.be.at.least(100);
      for (const lang of ['en', 'es']) {
        for (const e of ['clear', 'possible', 'none']) {
          expect(CORPUS.filter((c) => c.lang === lang && c.expect === e).length, `${lang} ${e}`).to.be.at.least(5);
        }
      }
    });

    for (const c of CORPUS) {
      it(`when a patient texts ${JSON.stringify(c.text)}, then it is ${c.expect}`, async function () {
        const phone = uniquePhone();
        await addPatient(t.store, { phone, firstName: 'Ana', ...(c.lang === 'es' ? { language: 'es' } : {}) }, [{ startsAt: new Date(Date.now() + 3 * 86_400_000) }]);
        const params = inboundParams({ From: phone, Body: c.text });
        const { body: form, signature } = signedRequest(params);
        const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form);
        expect(res.status).to.equal(200);
        const record = await t.store.getMessage(params.MessageSid as string);
        const optedOut = (await t.store.getOptOut('downtown', phone))?.optedOut === true;
        const actual = optedOut ? 'clear' : record?.possibleOptOut ? 'possible' : 'none';
        found.push({ expected: c.expect, actual });
        expect(actual, c.text).to.equal(c.expect);
        const events = record?.outbox ?? [];
        if (c.expect === 'clear') {
          expect(res.text).to.match(/unsubscribed|Ya no recibirá/);
          const consent = events.find((e) => e.type === 'consent.opted_out');
          const viaKeyword = record?.rulesFired[0] === 'opt-out';
          expect(consent?.data.via).to.equal(viaKeyword ? 'keyword' : 'phrase');
        } else if (c.expect === 'possible') {
          expect(res.text).to.match(/^<\?xml[^>]*\?><Response\/>$/);
          expect(events.find((e) => e.type === 'message.routed')?.data.possibleOptOut).to.equal(true);
          const list = await request(t.app.callback()).get(BASE).query({ limit: 100 }).set({ Authorization: `Bearer ${key}` });
          const conversation = (list.body.conversations as Array<{ id: string; phone: string; possibleOptOutAt: string | null }>).find((x) => x.phone === phone);
          expect(conversation?.possibleOptOutAt).to.be.a('string');
          const thread = await request(t.app.callback()).get(`${BASE}/${conversation!.id}`).set({ Authorization: `Bearer ${key}` });
          const entry = (thread.body.entries as Array<{ id: string; handling?: { possibleOptOut?: boolean } }>).find((e) => e.id === params.MessageSid);
          expect(entry?.handling?.possibleOptOut).to.equal(true);
        } else {
          expect(events.some((e) => e.type === 'consent.opted_out')).to.equal(false);
          expect(events.find((e) => e.type === 'message.routed')?.data.possibleOptOut ?? false).to.equal(false);
        }
      });
    }
  });
}

/** Precision and recall of the opt-out detection on the corpus, for the record (one line a store). */
function report(store: string, found: ReadonlyArray<{ expected: string; actual: string }>): void {
  const rate = (n: number, d: number): string => (d === 0 ? 'n/a' : (n / d).toFixed(3));
  const line = (label: string, positive: (v: string) => boolean): string => {
    const tp = found.filter((f) => positive(f.actual) && positive(f.expected)).length;
    const fp = found.filter((f) => positive(f.actual) && !positive(f.expected)).length;
    const fn = found.filter((f) => !positive(f.actual) && positive(f.expected)).length;
    return `${label}: precision ${rate(tp, tp + fp)}, recall ${rate(tp, tp + fn)}`;
  };
  process.stdout.write(`      revocation corpus (${store}, ${found.length} phrases): ${line('clear', (v) => v === 'clear')}; ${line('clear or possible', (v) => v !== 'none')}\n`);
}
