/**
 * A family phone asks which patient's appointment a keyword means (issue 26, part 1): through
 * the signed webhook, the shipped rules (fixture copy) and the staff API, on both stores.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Appointment, Patient } from '../../src/domain.js';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

const BASE = '/v1/clinics/downtown/conversations';
const DAY = 86_400_000;
/** Wednesday 9 Dec 2026, 14:00 UTC (8:00 AM in Chicago): downtown is always open (no businessHours). */
const START = Date.parse('2026-12-02T14:00:00Z');

interface Family {
  phone: string;
  dylan: Patient;
  carla: Patient;
  dylanAppt: Appointment;
  carlaAppt: Appointment;
}

for (const kind of STAFF_STORE_KINDS) {
  describe(`family phones: which patient's appointment, through the webhook (${kind.name})`, function () {
    let t: StaffTestApp;
    let key: string;
    let now = START;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      t = await buildStaffApp(made, {}, { clock: () => new Date((now += 10)) });
      key = t.key('downtown', ['conversations:read', 'conversations:write']);
    });

    after(async function () {
      await t?.dispose();
    });

    beforeEach(function () {
      now = START;
    });

    async function text(from: string, body: string, sid?: string): Promise<{ reply: string; sid: string }> {
      const params = inboundParams({ From: from, Body: body, ...(sid ? { MessageSid: sid } : {}) });
      const { body: form, signature } = signedRequest(params);
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form);
      expect(res.status).to.equal(200);
      const m = /<Message>([\s\S]*)<\/Message>/.exec(res.text);
      return { reply: m ? unescape(m[1] as string) : '', sid: params.MessageSid as string };
    }

    /** Dylan's appointment in 7 days, Carla's in 11 (Wed Dec 9 and Sun Dec 13, 8:00 AM CST). */
    async function family(opts: { carlaName?: string; language?: string } = {}): Promise<Family> {
      const phone = uniquePhone();
      const dylan = await addPatient(t.store, { phone, firstName: 'Dylan', lastName: 'Nguyen', ...(opts.language ? { language: opts.language } : {}) }, [{ startsAt: new Date(START + 7 * DAY) }]);
      const carla = await addPatient(t.store, { phone, firstName: opts.carlaName ?? 'Carla', lastName: 'Nguyen' }, [{ startsAt: new Date(START + 11 * DAY) }]);
      return { phone, dylan, carla, dylanAppt: (await t.store.getAppointment(`a-${dylan.id}-0`))!, carlaAppt: (await t.store.getAppointment(`a-${carla.id}-0`))! };
    }

    const status = async (id: string): Promise<string> => {
      const a = await t.store.getAppointment(id);
      return a?.patientResponse?.kind ?? a?.status ?? 'none';
    };

    const events = async (sid: string): Promise<Array<{ type: string; data: Record<string, unknown> }>> =>
      ((await t.store.getMessage(sid))?.outbox ?? []).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));

    it('when a family phone texts CONFIRM, then it asks which appointment, changes nothing and emits no event; "2" then confirms Carla\'s only, with an event naming it', async function () {
      const f = await family();
      const ask = await text(f.phone, 'CONFIRM');
      expect(ask.reply).to.equal('Which appointment? Reply 1 for Dylan (Wed, Dec 9, 8:00 AM CST), 2 for Carla (Sun, Dec 13, 8:00 AM CST), or ALL.');
      expect(await status(f.dylanAppt.id)).to.equal('scheduled');
      expect(await status(f.carlaAppt.id)).to.equal('scheduled');
      expect(await events(ask.sid)).to.deep.equal([]);
      const pending = (await t.store.peekSender('downtown', f.phone)).choice;
      expect(pending?.action).to.equal('confirm-appointment');
      expect(pending?.options.map((o) => o.firstName)).to.deep.equal(['Dylan', 'Carla']);

      const answer = await text(f.phone, '2');
      expect(answer.reply).to.equal("Thank you. Carla's appointment on Sun, Dec 13, 8:00 AM CST is confirmed.");
      expect(await status(f.carlaAppt.id)).to.equal('confirmed');
      expect(await status(f.dylanAppt.id)).to.equal('scheduled');
      const confirmed = await events(answer.sid);
      expect(confirmed.map((e) => [e.type, e.data.appointmentId])).to.deep.equal([['appointment.confirmed', f.carlaAppt.id]]);
      expect((await t.store.peekSender('downtown', f.phone)).choice).to.equal(undefined);
    });

    it('when the answer is a first name in another case and without its accents, or ALL, then those appointments get the action', async function () {
      const f = await family({ carlaName: 'Sofía' });
      await text(f.phone, 'cancel appt');
      const named = await text(f.phone, 'sofia');
      expect(named.reply).to.equal("We received your request to cancel Sofía's appointment on Sun, Dec 13, 8:00 AM CST. Our staff will confirm shortly.");
      expect(await status(f.carlaAppt.id)).to.equal('cancel-requested');
      expect(await status(f.dylanAppt.id)).to.equal('scheduled');

      await text(f.phone, 'CONFIRM');
      const all = await text(f.phone, 'all');
      expect(all.reply).to.match(/^(Thank you\. Dylan's appointment .* is confirmed\.|Thank you\. These appointments are confirmed: .*)$/);
      expect(await status(f.dylanAppt.id)).to.equal('confirmed');
      // Carla's has a cancel request: a confirm does not undo it.
      expect(await status(f.carlaAppt.id)).to.equal('cancel-requested');
    });

    it('when ALL answers a RESCHEDULE, then both appointments get the request, one event each, and the reply lists them', async function () {
      const f = await family();
      await text(f.phone, 'RESCHEDULE');
      const all = await text(f.phone, 'ALL');
      expect(all.reply).to.equal(
        'We received your request to reschedule these appointments: Dylan (Wed, Dec 9, 8:00 AM CST) and Carla (Sun, Dec 13, 8:00 AM CST). Our staff will contact you with new times.',
      );
      expect(await status(f.dylanAppt.id)).to.equal('reschedule-requested');
      expect(await status(f.carlaAppt.id)).to.equal('reschedule-requested');
      expect((await events(all.sid)).map((e) => [e.type, e.data.appointmentId])).to.deep.equal([
        ['appointment.reschedule_requested', f.dylanAppt.id],
        ['appointment.reschedule_requested', f.carlaAppt.id],
      ]);
    });

    it('when STOP comes while a question is pending, then it opts out and the question is gone', async function () {
      const f = await family();
      await text(f.phone, 'CONFIRM');
      const stop = await text(f.phone, 'STOP');
      expect(stop.reply).to.match(/You are unsubscribed/);
      expect((await t.store.peekSender('downtown', f.phone)).choice).to.equal(undefined);
      await text(f.phone, 'START');
      const one = await text(f.phone, '1');
      expect(one.reply).to.equal('Thank you for your message. We will respond shortly.');
      expect(await status(f.dylanAppt.id)).to.equal('scheduled');
    });

    it('when a new keyword comes while a question is pending, then it replaces the question', async function () {
      const f = await family();
      await text(f.phone, 'CONFIRM');
      const again = await text(f.phone, 'RESCHEDULE');
      expect(again.reply).to.match(/^Which appointment\? Reply 1 for Dylan/);
      expect((await t.store.peekSender('downtown', f.phone)).choice?.action).to.equal('reschedule-appointment');
      const one = await text(f.phone, '1');
      expect(one.reply).to.match(/^We received your request to reschedule Dylan's appointment/);
      expect(await status(f.dylanAppt.id)).to.equal('reschedule-requested');
    });

    it('when free text comes while a question is pending, then it reaches staff with the question shown in the thread, and the question still stands', async function () {
      const f = await family();
      await text(f.phone, 'CONFIRM');
      const free = await text(f.phone, 'Sorry, which one is the dentist?');
      expect(free.reply).to.equal('Thank you for your message. We will respond shortly.');
      const list = await request(t.app.callback()).get(BASE).query({ limit: 100 }).set({ Authorization: `Bearer ${key}` });
      const conversation = (list.body.conversations as Array<{ id: string; phone: string }>).find((c) => c.phone === f.phone);
      expect(conversation).to.not.equal(undefined);
      const thread = await request(t.app.callback()).get(`${BASE}/${conversation!.id}`).set({ Authorization: `Bearer ${key}` });
      const entry = (thread.body.entries as Array<{ id: string; handling?: { choice?: { action: string; options: Array<{ number: number; firstName: string; appointmentId: string }> } } }>).find(
        (e) => e.id === free.sid,
      );
      expect(entry?.handling?.choice?.action).to.equal('confirm-appointment');
      expect(entry?.handling?.choice?.options.map((o) => [o.number, o.firstName, o.appointmentId])).to.deep.equal([
        [1, 'Dylan', f.dylanAppt.id],
        [2, 'Carla', f.carlaAppt.id],
      ]);
      const one = await text(f.phone, '1');
      expect(one.reply).to.equal("Thank you. Dylan's appointment on Wed, Dec 9, 8:00 AM CST is confirmed.");
    });

    it('when the answer is unclear, then the question comes once more; unclear again, then it goes to staff and the question ends', async function () {
      const f = await family();
      const ask = await text(f.phone, 'CONFIRM');
      const first = await text(f.phone, '3');
      expect(first.reply).to.equal(ask.reply);
      const second = await text(f.phone, 'the first');
      expect(second.reply).to.equal('Thank you. Our staff will contact you about which appointment you mean, or call (312) 555-0199.');
      expect((await t.store.getMessage(second.sid))?.actions.map((a) => a.type)).to.deep.equal(['route-to-staff']);
      expect((await t.store.peekSender('downtown', f.phone)).choice).to.equal(undefined);
      expect(await status(f.dylanAppt.id)).to.equal('scheduled');
    });

    it('when the question has expired (24 h), then an answer is handled as if none had been asked', async function () {
      const f = await family();
      await text(f.phone, 'CONFIRM');
      now = START + 25 * 3_600_000;
      const late = await text(f.phone, '1');
      expect(late.reply).to.equal('Thank you for your message. We will respond shortly.');
      expect(await status(f.dylanAppt.id)).to.equal('scheduled');
    });

    it('when a Spanish keyword asks, then the question and the answer to "2" are in Spanish', async function () {
      const f = await family();
      const ask = await text(f.phone, 'CONFIRMAR');
      expect(ask.reply).to.match(/^¿Qué cita\? Responda 1 para Dylan \(.+\), 2 para Carla \(.+\), o TODAS\.$/);
      const two = await text(f.phone, '2');
      expect(two.reply).to.match(/^Gracias\. La cita de Carla el .+ está confirmada\.$/);
    });

    it('when the answer is delivered twice (same MessageSid), then the second gets the same reply and nothing runs again', async function () {
      const f = await family();
      await text(f.phone, 'CONFIRM');
      const first = await text(f.phone, '2');
      const repeat = await text(f.phone, '2', first.sid);
      expect(repeat.reply).to.equal(first.reply);
      expect((await t.store.getMessage(first.sid))?.duplicateDeliveries).to.equal(1);
    });

    it('when more patients have appointments than the question can list in two SMS segments, then the message goes to staff with the list', async function () {
      const phone = uniquePhone();
      const names = ['Alexandra', 'Bartholomew', 'Cassandra', 'Demetrius', 'Evangeline', 'Fitzgerald', 'Genevieve', 'Humphrey'];
      for (const [i, firstName] of names.entries()) {
        await addPatient(t.store, { phone, firstName }, [{ startsAt: new Date(START + (i + 2) * DAY) }]);
      }
      const ask = await text(phone, 'CONFIRM');
      expect(ask.reply).to.equal('Thank you. Our staff will contact you about which appointment you mean, or call (312) 555-0199.');
      const record = await t.store.getMessage(ask.sid);
      expect(record?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['ask-which-appointment:too-many']);
      expect(record?.choice?.options.map((o) => o.firstName)).to.deep.equal(names);
      expect((await t.store.peekSender('downtown', phone)).choice).to.equal(undefined);
    });

    it('when only one patient on the phone has an upcoming appointment, then CONFIRM confirms it without asking', async function () {
      const phone = uniquePhone();
      const dylan = await addPatient(t.store, { phone, firstName: 'Dylan' }, [{ startsAt: new Date(START + 3 * DAY) }]);
      await addPatient(t.store, { phone, firstName: 'Carla' });
      const confirm = await text(phone, 'CONFIRM');
      expect(confirm.reply).to.match(/^Thank you\. Dylan's appointment/);
      expect(await status(`a-${dylan.id}-0`)).to.equal('confirmed');
    });
  });
}

function unescape(xml: string): string {
  return xml.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
