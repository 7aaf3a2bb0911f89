import { expect } from 'chai';
import twilio from 'twilio';
import { parseTemplate, renderTemplate } from '../../../src/rules/templates.js';
import { formatAppointmentTime } from '../../../src/rules/local-time.js';
import { OPEN_NOW, compileFromText, makeClinic, makeWorld, send } from '../../support/rules-builders.js';

const MINIMAL = `keywords: { STOP: { en: [STOP] } }
rules:
  - { name: opt-out, priority: 9, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
  - { name: staff, conditions: { all: [ { fact: patients.known, operator: equal, value: true } ] }, event: { type: route-to-staff, params: { reply: thanks } } }
templates:
  thanks: "{{ clinic.name }} thanks {{patient.firstName}} ({{clinic.officePhone}}, {{clinic.phone}}, {{message.keyword}})"
  system-error: "Call {{clinic.officePhone}}"
`;

describe('reply templates', () => {
  it('when a template is parsed, then text and merge fields alternate and spaces inside braces are allowed', () => {
    const { template, problems } = parseTemplate('Hi {{patient.firstName}}, see you {{ appointment.time }}.');
    expect(problems).to.deep.equal([]);
    expect(template.fields).to.deep.equal(['patient.firstName', 'appointment.time']);
    expect(renderTemplate(template, { 'patient.firstName': 'Ana', 'appointment.time': 'Tue' })).to.equal('Hi Ana, see you Tue.');
  });

  it('when a template has an unknown field or stray braces, then each problem has its offset', () => {
    const { problems } = parseTemplate('Hi {{patient.ssn}} {{oops');
    expect(problems.map((p) => p.offset)).to.deep.equal([3, 19]);
  });

  it('when merge fields contain <, & and quotes, then the reply is plain text and MessagingResponse escapes it in the TwiML', async () => {
    const clinic = makeClinic({ name: 'Smith & "Sons" <Care>', officePhone: "O'Hare 555" });
    const rules = compileFromText(MINIMAL, null, clinic);
    const world = await makeWorld([{ firstName: '<b>Zoë</b> & "Al"' }], { clinic });
    const { outcome } = await send(rules, world, 'Hi & bye');
    expect(outcome.reply).to.equal('Smith & "Sons" <Care> thanks <b>Zoë</b> & "Al" (O\'Hare 555, +13125550100, HI)');
    const twiml = new twilio.twiml.MessagingResponse();
    twiml.message(outcome.reply ?? '');
    const xml = twiml.toString();
    // Quotes need no escaping in an XML text node; & and < must be, and are.
    expect(xml).to.equal(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Smith &amp; "Sons" &lt;Care&gt; thanks &lt;b&gt;Zoë&lt;/b&gt; &amp; "Al" (O\'Hare 555, +13125550100, HI)</Message></Response>',
    );
  });

  it('when the clinic has no office phone, then {{clinic.officePhone}} falls back to the number the patient texted', async () => {
    const clinic = makeClinic({ officePhone: undefined });
    const rules = compileFromText(MINIMAL, null, clinic);
    const world = await makeWorld([{ firstName: 'Ana' }], { clinic });
    const { outcome } = await send(rules, world, 'hello');
    expect(outcome.reply).to.equal('Downtown Family Clinic thanks Ana (+13125550100, +13125550100, HELLO)');
  });

  it('when appointment times are formatted, then they use the clinic\'s zone and plain spaces (GSM-7 friendly)', () => {
    const text = formatAppointmentTime(new Date('2026-12-01T15:00:00Z'), 'America/Chicago', 'en');
    expect(text).to.equal('Tue, Dec 1, 9:00 AM CST');
    expect(formatAppointmentTime(new Date('2026-12-01T15:00:00Z'), 'America/New_York', 'en')).to.equal('Tue, Dec 1, 10:00 AM EST');
    expect(formatAppointmentTime(OPEN_NOW, 'America/Chicago', 'es')).to.not.match(/[\u00a0\u202f]/);
  });
});
