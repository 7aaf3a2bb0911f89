/**
 * Automatic replies that know a person is talking (issue 26, part 3): the unknown-number and
 * after-hours texts go out once per conversation per 24 h and never while staff are in the
 * conversation, and every message still reaches it. Through the signed webhook and the staff
 * API (replies through a fake Twilio over HTTP), on both stores.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

const BASE = '/v1/clinics/downtown/conversations';
const UNKNOWN = "We don't recognize this phone number. Please contact our office directly.";
/** Downtown's own after-hours template (test/fixtures/rules/standard/clinics/downtown.yaml), word for word. */
const AFTER_HOURS = 'Thank you for your message. Downtown Family Clinic is closed now; we will reply on the next business day. For an emergency, call 911.';
const HOUR = 3_600_000;
/** Tuesday 1 Dec 2026, 20:00 in Chicago (02:00 UTC on the 2nd): closed (Mon-Fri 8-17 below). */
const EVENING = Date.parse('2026-12-02T02:00:00Z');

for (const kind of STAFF_STORE_KINDS) {
  describe(`automatic replies that know a person is talking, through the webhook (${kind.name})`, function () {
    let t: StaffTestApp;
    let twilioFake: FakeTwilio;
    let key: string;
    let dir: string;
    let now = EVENING;
    let dispose: (() => Promise<void>) | undefined;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      dispose = made.dispose;
      // The fixture clinics, with Downtown open Monday to Friday, 8 to 17.
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-staff-aware-'));
      const clinics = (await fs.readFile('test/fixtures/clinics.yaml', 'utf8')).replace(
        '    languages: [en, es]\n',
        '    languages: [en, es]\n    businessHours: { mon: "08:00-17:00", tue: "08:00-17:00", wed: "08:00-17:00", thu: "08:00-17:00", fri: "08:00-17:00" }\n',
      );
      await fs.writeFile(path.join(dir, 'clinics.yaml'), clinics);
      twilioFake = await startFakeTwilio();
      t = await buildStaffApp(made, { clinicsFile: path.join(dir, 'clinics.yaml'), twilioApiBaseUrl: twilioFake.baseUrl }, { clock: () => new Date((now += 10)) });
      key = t.key('downtown', ['conversations:read', 'conversations:write']);
    });

    after(async function () {
      await twilioFake?.close();
      // The store is the app's to close once built; before that (a failed setup) it is ours.
      await (t ? t.dispose() : dispose?.());
      if (dir) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    beforeEach(function () {
      now = EVENING;
    });

    const api = () => request(t.app.callback());
    const auth = () => ({ Authorization: `Bearer ${key}` });

    async function text(from: string, body: string): Promise<string | null> {
      const { body: form, signature } = signedRequest(inboundParams({ From: from, Body: body }));
      const res = await api().post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form);
      expect(res.status).to.equal(200);
      const m = /<Message>([\s\S]*)<\/Message>/.exec(res.text);
      return m ? (m[1] as string).replace(/&apos;/g, "'") : null;
    }

    async function conversationOf(phone: string): Promise<{ id: string; inbound: string[] }> {
      const list = await api().get(BASE).query({ limit: 100 }).set(auth());
      const found = (list.body.conversations as Array<{ id: string; phone: string }>).find((c) => c.phone === phone);
      expect(found, 'the sender has a conversation').to.not.equal(undefined);
      const thread = await api().get(`${BASE}/${found!.id}`).set(auth());
      return { id: found!.id, inbound: (thread.body.entries as Array<{ type: string; text: string }>).filter((e) => e.type === 'inbound').map((e) => e.text) };
    }

    it('when an unknown number texts again within a day, then the seed text went out once, word for word, and both messages reach the conversation; a day later it goes out again', async function () {
      const phone = uniquePhone();
      expect(await text(phone, 'Hi, I am a new patient')).to.equal(UNKNOWN);
      expect(await text(phone, 'Do you take Blue Cross?')).to.equal(null);
      expect((await conversationOf(phone)).inbound).to.deep.equal(['Hi, I am a new patient', 'Do you take Blue Cross?']);
      now += 25 * HOUR;
      expect(await text(phone, 'Hello again')).to.equal(UNKNOWN);
    });

    it('when staff replied to a newcomer, then the newcomer\'s next message gets no unknown-number text and reaches the conversation', async function () {
      const phone = uniquePhone();
      now += 26 * HOUR; // Wednesday evening 20:00 + 2 h: still closed, irrelevant for unknown numbers
      expect(await text(phone, 'Hi, is this the clinic?')).to.equal(UNKNOWN);
      const { id } = await conversationOf(phone);
      now += 25 * HOUR; // the unknown-number text is a day old: only staff's reply holds it back
      const reply = await api().post(`${BASE}/${id}/replies`).set(auth()).send({ text: 'Yes! How can we help?' });
      expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
      now += HOUR;
      expect(await text(phone, 'Thanks, can you do Tuesday morning?')).to.equal(null);
      expect((await conversationOf(phone)).inbound).to.include('Thanks, can you do Tuesday morning?');
    });

    it('when a patient texts several times in an evening, then the after-hours text goes out once, word for word, and every message reaches staff', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Ana' });
      expect(await text(phone, 'Is the clinic open tomorrow?')).to.equal(AFTER_HOURS);
      expect(await text(phone, 'I need a refill')).to.equal(null);
      expect(await text(phone, 'Of lisinopril')).to.equal(null);
      expect((await conversationOf(phone)).inbound).to.deep.equal(['Is the clinic open tomorrow?', 'I need a refill', 'Of lisinopril']);
      now += 25 * HOUR; // Wednesday 21:00: closed again, a day later
      expect(await text(phone, 'Still waiting on the refill')).to.equal(AFTER_HOURS);
    });

    it('when staff wrote a note in the conversation within the day, then an evening message gets no after-hours text', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Bo' });
      now -= 30 * HOUR; // Monday 14:00: open
      expect(await text(phone, 'Can I move my visit?')).to.equal('Thank you for your message. We will respond shortly.');
      const { id } = await conversationOf(phone);
      now = EVENING - 2 * HOUR; // Tuesday 18:00: closed
      expect((await api().post(`${BASE}/${id}/notes`).set(auth()).send({ text: 'Calling her back tomorrow' })).status).to.equal(201);
      expect(await text(phone, 'Also, is parking free?')).to.equal(null);
      expect((await conversationOf(phone)).inbound).to.include('Also, is parking free?');
    });
  });
}
