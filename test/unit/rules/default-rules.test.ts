import { expect } from 'chai';
import { appointmentStatus } from '../../../src/domain.js';
import { conversationOf } from '../../support/conversations.js';
import { systemErrorText } from '../../../src/rules/reply.js';
import type { CompiledRules } from '../../../src/rules/load-rules.js';
import { readFileSync } from 'node:fs';
import { CLOSED_NOW, OPEN_NOW, RULES_DIR, compileFromText, makeClinic, makeWorld, realRules, send } from '../../support/rules-builders.js';

const UNKNOWN = "We don't recognize this phone number. Please contact our office directly.";
const RECEIVED = 'Thank you for your message. We will respond shortly.';
const SYSTEM_ERROR = "We're experiencing technical difficulties. Please try again later or call our office.";

describe('default behaviour (rules/default.yaml)', () => {
  let rules: CompiledRules;
  before(async () => {
    rules = await realRules(makeClinic());
  });

  describe('unknown numbers', () => {
    it('when a number no patient has sends text, then the reply is the seed text word for word and no rule routes it (the pipeline does: handle-message tests)', async () => {
      const world = await makeWorld([]);
      const { outcome } = await send(rules, world, 'Hi, is this the clinic?');
      expect(outcome.reply).to.equal(UNKNOWN);
      expect(outcome.rulesFired).to.deep.equal(['unknown-number']);
      expect(world.routed).to.deep.equal([]);
    });

    it('when an unknown number sends CONFIRM, then nothing is confirmed and the reply is the unknown-number text', async () => {
      const world = await makeWorld([]);
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.actions.map((a) => a.type)).to.deep.equal(['reply-only']);
      expect(outcome.reply).to.equal(UNKNOWN);
    });

    it('when an unknown number sends STOP, then it is opted out for this clinic and gets the confirmation', async () => {
      const world = await makeWorld([]);
      const { outcome } = await send(rules, world, 'STOP');
      expect(outcome.actions.map((a) => a.type)).to.deep.equal(['opt-out']);
      expect(outcome.reply).to.match(/You are unsubscribed/);
      expect((await world.store.getOptOut(world.clinic.id, world.phone))?.optedOut).to.equal(true);
    });

    it('when an unknown number sends HELP or START, then they work too', async () => {
      const world = await makeWorld([]);
      expect((await send(rules, world, 'HELP')).outcome.reply).to.match(/^Downtown Family Clinic appointment texts\..*Reply STOP to unsubscribe\.$/);
      await send(rules, world, 'STOP');
      const { outcome } = await send(rules, world, 'START');
      expect(outcome.actions.map((a) => a.outcome)).to.deep.equal(['opted-in']);
      expect((await world.store.getOptOut(world.clinic.id, world.phone))?.optedOut).to.equal(false);
    });
  });

  describe('opted-out numbers', () => {
    it('when an opted-out patient sends text, then it still reaches staff but gets no reply', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      await send(rules, world, 'STOP');
      const { outcome } = await send(rules, world, 'Can someone call me?');
      expect(outcome.actions.map((a) => a.type)).to.deep.equal(['route-to-staff']);
      expect(outcome.reply).to.equal(null);
      expect(world.routed.map((r) => [r.reason, r.message.body])).to.deep.equal([['message', 'Can someone call me?']]);
      expect(await conversationOf(world.conversations, world.clinic.id, world.phone, OPEN_NOW)).to.deep.include({ status: 'open', waitingSince: OPEN_NOW });
    });

    it('when an opted-out patient sends CONFIRM, then the appointment is confirmed but no reply is sent', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      await send(rules, world, 'STOP');
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.actions.map((a) => a.outcome)).to.deep.equal(['confirmed']);
      expect(outcome.reply).to.equal(null);
    });

    it('when an opted-out number sends STOP again, then there is no second confirmation', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      await send(rules, world, 'STOP');
      const { outcome } = await send(rules, world, 'STOP');
      expect(outcome.actions.map((a) => a.outcome)).to.deep.equal(['already-opted-out']);
      expect(outcome.reply).to.equal(null);
    });

    it('when an opted-out number sends HELP, then it gets the HELP reply and stays opted out', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      await send(rules, world, 'STOP');
      const { outcome } = await send(rules, world, 'HELP');
      expect(outcome.reply).to.match(/Reply STOP to unsubscribe/);
      expect((await world.store.getOptOut(world.clinic.id, world.phone))?.optedOut).to.equal(true);
    });

    it('when a number is opted out of one clinic, then another clinic still answers it', async () => {
      const world = await makeWorld([{ firstName: 'Ana' }]);
      await send(rules, world, 'STOP');
      expect(await world.store.getOptOut('lakeside', world.phone)).to.equal(null);
    });

    it('when one patient on a shared phone opts out, then the number is opted out for all of them', async () => {
      const world = await makeWorld([{ firstName: 'Carla' }, { firstName: 'Dylan' }]);
      await send(rules, world, 'stop');
      const { outcome } = await send(rules, world, 'hello');
      expect(outcome.reply).to.equal(null);
    });
  });

  describe('bare CANCEL and YES (Twilio and FCC keywords)', () => {
    it('when a patient sends a bare CANCEL, then the number is opted out, no appointment changes, and the reply says how to cancel one', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      const { outcome } = await send(rules, world, 'Cancel.');
      expect(outcome.actions.map((a) => a.type)).to.deep.equal(['opt-out']);
      expect(outcome.reply).to.equal(
        'Downtown Family Clinic: You are unsubscribed and will get no more texts from us. No appointment was changed; to cancel one, call (312) 555-0199. Reply START to resubscribe.',
      );
      const appointment = await world.store.findNextAppointment(
        world.clinic.id,
        world.patients.map((p) => p.id),
        OPEN_NOW,
      );
      expect(appointment?.status).to.equal('scheduled');
      expect(world.routed).to.deep.equal([]);
      expect(await conversationOf(world.conversations, world.clinic.id, world.phone)).to.equal(null);
    });

    it('when a patient sends CANCEL with more words, then the appointment is cancel-requested and the number stays subscribed', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      const { outcome } = await send(rules, world, 'cancel appt');
      expect(outcome.actions.map((a) => a.outcome)).to.deep.equal(['cancel-requested']);
      expect(await world.store.getOptOut(world.clinic.id, world.phone)).to.equal(null);
    });

    it('when a subscribed patient sends YES, then it confirms the appointment', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      const { outcome } = await send(rules, world, 'Yes');
      expect(outcome.actions.map((a) => a.outcome)).to.deep.equal(['confirmed']);
    });

    it('when an opted-out patient sends YES, then it opts back in (as Twilio does) and confirms nothing', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      await send(rules, world, 'STOP');
      const { outcome } = await send(rules, world, 'YES');
      expect(outcome.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['opt-in:opted-in']);
      expect(outcome.reply).to.match(/You are subscribed to appointment texts again/);
    });
  });

  describe('shared family phones', () => {
    /** A clinic that turned the family question off: the soonest appointment is acted on, as before the question existed. */
    let noQuestion: CompiledRules;
    before(() => {
      noQuestion = compileFromText(readFileSync(`${RULES_DIR}/default.yaml`, 'utf8'), 'disable: [which-appointment]\n');
    });

    it('when two patients on a phone have upcoming appointments, then CONFIRM asks which one and changes nothing', async () => {
      const world = await makeWorld([
        { firstName: 'Carla', appointments: [{ startsAt: new Date('2026-12-05T15:00:00Z') }] },
        { firstName: 'Dylan', appointments: [{ startsAt: new Date('2026-12-01T20:30:00Z'), provider: 'Dr. Lee' }] },
      ]);
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.reply).to.equal('Which appointment? Reply 1 for Dylan (Tue, Dec 1, 2:30 PM CST), 2 for Carla (Sat, Dec 5, 9:00 AM CST), or ALL.');
      expect(outcome.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['ask-which-appointment:asked']);
      const [carla, dylan] = await Promise.all(world.patients.map((p) => world.store.findNextAppointment(world.clinic.id, [p.id], OPEN_NOW)));
      expect([carla?.status, dylan?.status, carla?.patientResponse, dylan?.patientResponse]).to.deep.equal(['scheduled', 'scheduled', undefined, undefined]);
    });

    it('when a clinic disables which-appointment and a parent and child share a phone, then CONFIRM acts on the soonest appointment among them and names whose and when', async () => {
      const rules = noQuestion;
      const world = await makeWorld([
        { firstName: 'Carla', appointments: [{ startsAt: new Date('2026-12-05T15:00:00Z') }] },
        { firstName: 'Dylan', appointments: [{ startsAt: new Date('2026-12-01T20:30:00Z'), provider: 'Dr. Lee' }] },
      ]);
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.reply).to.equal("Thank you. Dylan's appointment on Tue, Dec 1, 2:30 PM CST is confirmed.");
      const dylan = await world.store.findNextAppointment(world.clinic.id, [world.patients[1]!.id], OPEN_NOW);
      const carla = await world.store.findNextAppointment(world.clinic.id, [world.patients[0]!.id], OPEN_NOW);
      expect(appointmentStatus(dylan!)).to.equal('confirmed');
      expect(carla?.status).to.equal('scheduled');
    });

    it('when the soonest appointment is in summer time, then the reply shows CDT', async () => {
      const world = await makeWorld([{ firstName: 'Carla', appointments: [{ startsAt: new Date('2027-07-01T14:00:00Z') }] }]);
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.reply).to.equal("Thank you. Carla's appointment on Thu, Jul 1, 9:00 AM CDT is confirmed.");
    });

    it('when a clinic disables which-appointment and the family sends RESCHEDULE, then the soonest appointment is reschedule-requested and a staff item names it', async () => {
      const rules = noQuestion;
      const world = await makeWorld([
        { firstName: 'Carla', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] },
        { firstName: 'Dylan', appointments: [{ startsAt: new Date('2026-12-03T15:00:00Z') }] },
      ]);
      const { outcome, input } = await send(rules, world, 'reschedule please');
      expect(outcome.reply).to.equal(
        "We received your request to reschedule Carla's appointment on Tue, Dec 1, 9:00 AM CST. Our staff will contact you with new times.",
      );
      expect(world.routed.map((r) => [r.message.messageSid, r.reason, r.patients.length])).to.deep.equal([[input.message.messageSid, 'reschedule-request', 2]]);
      expect((await conversationOf(world.conversations, world.clinic.id, world.phone, OPEN_NOW))?.patients.map((p) => p.displayName)).to.deep.equal(['Carla Test', 'Dylan Test']);
    });
  });

  describe('outcome-dependent replies', () => {
    it('when CONFIRM is sent twice, then the second reply says it is already confirmed', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      await send(rules, world, 'CONFIRM');
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.reply).to.equal("Ana's appointment on Tue, Dec 1, 9:00 AM CST is already confirmed.");
    });

    it('when there is no upcoming appointment, then CONFIRM, CANCEL APPT and RESCHEDULE say so', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-01-01T15:00:00Z') }] }]);
      for (const body of ['CONFIRM', 'CANCEL APPT', 'RESCHEDULE']) {
        const { outcome } = await send(rules, world, body);
        expect(outcome.actions[0]?.outcome).to.equal('no-appointment');
        expect(outcome.reply).to.equal('We could not find an upcoming appointment for this phone number. Please call (312) 555-0199.');
      }
    });

    it('when a cancel was already requested, then CONFIRM says a change is pending and CANCEL APPT says already requested', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      await send(rules, world, 'cancel appointment');
      expect((await send(rules, world, 'CONFIRM')).outcome.reply).to.match(/^We already have a request to change Ana's appointment/);
      expect((await send(rules, world, 'cancel appointment')).outcome.reply).to.match(/^We already have your request to cancel Ana's appointment/);
      expect(world.routed.map((r) => r.reason)).to.deep.equal(['cancel-request']);
    });

    it('when a cancelled appointment is the only one, then it is not upcoming', async () => {
      const world = await makeWorld([{ firstName: 'Ana', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z'), status: 'cancelled' }] }]);
      const { outcome } = await send(rules, world, 'CONFIRM');
      expect(outcome.actions[0]?.outcome).to.equal('no-appointment');
    });
  });

  describe('free text, media and business hours', () => {
    it('when a patient sends free text in business hours, then it goes to staff and the reply is the seed text word for word', async () => {
      const world = await makeWorld([{ firstName: 'Ben' }]);
      const { outcome, input } = await send(rules, world, 'My prescription ran out');
      expect(outcome.reply).to.equal(RECEIVED);
      expect(world.routed.map((r) => [r.message.messageSid, r.reason])).to.deep.equal([[input.message.messageSid, 'message']]);
      expect(await conversationOf(world.conversations, world.clinic.id, world.phone, OPEN_NOW)).to.deep.include({
        status: 'open',
        last: { at: OPEN_NOW, direction: 'inbound', preview: 'My prescription ran out' },
      });
    });

    it('when a patient whose language is es sends free text, then the reply is the Spanish text', async () => {
      const world = await makeWorld([{ firstName: 'Ana', language: 'es' }]);
      const { outcome } = await send(rules, world, 'Hola');
      expect(outcome.reply).to.equal('Gracias por su mensaje. Le responderemos pronto.');
    });

    it('when a patient sends only a photo, then it goes to staff with its media list', async () => {
      const world = await makeWorld([{ firstName: 'Ben' }]);
      const media = [{ url: 'https://api.twilio.com/media/ME1', contentType: 'image/jpeg' }];
      const { outcome } = await send(rules, world, '', { message: { media, numMedia: 1 } });
      expect(outcome.reply).to.equal(RECEIVED);
      expect(world.routed.map((r) => [r.reason, r.message.media])).to.deep.equal([['message', media]]);
      expect((await conversationOf(world.conversations, world.clinic.id, world.phone, OPEN_NOW))?.status).to.equal('open');
    });

    it('when a patient sends CONFIRM with a photo, then the appointment is confirmed, the photo reaches staff, and the reply is the confirmation', async () => {
      const world = await makeWorld([{ firstName: 'Ben', appointments: [{ startsAt: new Date('2026-12-01T15:00:00Z') }] }]);
      const media = [{ url: 'https://api.twilio.com/media/ME2', contentType: 'image/png' }];
      const { outcome } = await send(rules, world, 'confirm', { message: { media, numMedia: 1 } });
      expect(outcome.rulesFired).to.deep.equal(['media-with-keyword', 'confirm-appointment']);
      expect(outcome.reply).to.match(/is confirmed\.$/);
      expect(world.routed.map((r) => [r.reason, r.message.media])).to.deep.equal([['message', media]]);
    });

    it('when a patient writes outside business hours, then the reply is the clinic\'s after-hours text', async () => {
      const world = await makeWorld([{ firstName: 'Ben' }]);
      const { outcome } = await send(rules, world, 'Question about my bill', { now: CLOSED_NOW });
      expect(outcome.rulesFired).to.deep.equal(['after-hours-message']);
      expect(outcome.reply).to.match(/^Thank you for your message\. Downtown Family Clinic is closed now/);
    });

    it('when a clinic has no businessHours, then it is always open', async () => {
      const clinic = makeClinic({ id: 'lakeside', languages: ['en'], businessHours: undefined });
      const open = await realRules(clinic);
      const world = await makeWorld([{ firstName: 'Ben' }], { clinic });
      const { outcome, decision } = await send(open, world, 'hello', { now: CLOSED_NOW });
      expect(decision.facts['time.inBusinessHours']).to.equal(true);
      expect(outcome.reply).to.equal(RECEIVED);
    });

    it('when a clinic has no file of its own, then the default after-hours text is used', async () => {
      const clinic = makeClinic({ id: 'lakeside', languages: ['en'] });
      const lakeside = await realRules(clinic);
      const world = await makeWorld([{ firstName: 'Ben' }], { clinic });
      const { outcome } = await send(lakeside, world, 'hello', { now: CLOSED_NOW });
      expect(outcome.reply).to.match(/^Thank you for your message\. Our office is closed now/);
    });

    it('when a clinic turns autoReply off, then messages still reach staff but get no acknowledgement, while keywords still answer', async () => {
      const clinic = makeClinic({ autoReply: false });
      const quiet = await realRules(clinic);
      const world = await makeWorld([{ firstName: 'Ben' }], { clinic });
      const { outcome } = await send(quiet, world, 'hello');
      expect(outcome.actions.map((a) => a.type)).to.deep.equal(['route-to-staff']);
      expect(outcome.reply).to.equal(null);
      expect((await send(quiet, world, 'HELP')).outcome.reply).to.match(/Reply STOP/);
    });
  });

  describe('per-clinic overrides (rules/clinics/downtown.yaml)', () => {
    it('when a downtown patient sends HOURS, then the clinic\'s own rule answers', async () => {
      const world = await makeWorld([{ firstName: 'Ben' }]);
      const { outcome } = await send(rules, world, 'hours?');
      expect(outcome.rulesFired).to.deep.equal(['office-hours']);
      expect(outcome.reply).to.equal('Downtown Family Clinic is open Mon-Thu 8 AM-5 PM and Fri 8 AM-3 PM. Call (312) 555-0199.');
    });

    it('when a clinic without that rule gets HOURS, then it is an ordinary message', async () => {
      const clinic = makeClinic({ id: 'lakeside', languages: ['en'] });
      const world = await makeWorld([{ firstName: 'Ben' }], { clinic });
      const { outcome } = await send(await realRules(clinic), world, 'hours?');
      expect(outcome.rulesFired).to.deep.equal(['message-to-staff']);
    });
  });

  describe('system error text', () => {
    it('when there are no rules, then it is the seed text; with rules, the clinic\'s template', () => {
      expect(systemErrorText(undefined)).to.equal(SYSTEM_ERROR);
      expect(systemErrorText(rules)).to.equal(SYSTEM_ERROR);
    });
  });
});
