import { expect } from 'chai';
import { checkRules, type CheckReport } from '../../../src/admin/check/check-rules.js';
import { quickReplyText } from '../../../src/rules/quick-replies.js';
import { renderTemplate } from '../../../src/rules/templates.js';
import { compileFromText, makeClinic } from '../../support/rules-builders.js';

const DIR = 'test/fixtures/rules-check/quick-replies';

const DEFAULTS = `keywords: { STOP: { en: [STOP] } }
rules:
  - { name: opt-out, priority: 9, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
templates:
  system-error: "Call {{clinic.officePhone}}"
quickReplies:
  - shortcode: call-us
    text: "Please call {{clinic.officePhone}}."
  - shortcode: hours
    text: "We are open 8 to 5."
`;

function lines(report: CheckReport): string[] {
  return report.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`);
}

describe('quick replies in the rules YAML', () => {
  it('when rules check reads bad quick replies, then each problem is an error at file:line:col: bad shortcode, placeholder a quick reply cannot fill, unknown placeholder, too long, empty, duplicate shortcode', async () => {
    const report = await checkRules({ rulesDir: DIR, clinicsFile: 'test/fixtures/rules-check/clinics.yaml' });
    const alpha = `${DIR}/clinics/alpha.yaml`;
    expect(lines(report)).to.deep.equal([
      `${alpha}:3:16: quickReplies[0].shortcode: "Call Us!" is not a shortcode (lower-case letters, digits and dashes, at most 24, typed as /callus)`,
      `${alpha}:6:22: quickReplies[1].text: {{message.keyword}} is not known in a quick reply (use clinic.name, clinic.officePhone, clinic.phone, patient.firstName, appointment.time, appointment.date, appointment.provider)`,
      `${alpha}:9:15: quickReplies[2].text: unknown placeholder "{{patient.nickname}}" (did you mean "patient.firstName"?) (a quick reply can use clinic.name, clinic.officePhone, clinic.phone, patient.firstName, appointment.time, appointment.date, appointment.provider)`,
      `${alpha}:11:11: quickReplies[3].text: too long (1080 characters; a quick reply is at most 1000, so it still fits a 1,600-character SMS once filled)`,
      `${alpha}:13:11: quickReplies[4].text: empty text`,
      `${DIR}/default.yaml:67:16: quickReplies[1].shortcode: "call-us" is already the shortcode of quickReplies[0]`,
    ]);
    expect(report.errors).to.equal(6);
    expect(report.clinics, 'alpha does not compile; beta has the default file\'s duplicate').to.deep.equal([]);
  });

  it('when a quick reply is not {shortcode, text}, then the schema says which field, at its place', () => {
    expect(() => compileFromText(`${DEFAULTS}  - { shortcode: x, text: "a", colour: red }\n  - { text: "no code" }\n`, null)).to.throw(
      /rules\/default.yaml:11:32: quickReplies\[2\]: unknown field "colour"[\s\S]*rules\/default.yaml:12:5: quickReplies\[3\]: missing required field "shortcode"/,
    );
  });

  it('when a clinic file has a quick reply of a default shortcode, then it replaces that one in place and its own come after', () => {
    const clinic = `version: 1
quickReplies:
  - shortcode: call-us
    text:
      en: "Hi {{patient.firstName}}, call {{clinic.name}} at {{clinic.officePhone}}."
      es: "Hola {{patient.firstName}}, llame a {{clinic.name}} al {{clinic.officePhone}}."
  - shortcode: next
    text: "Your visit: {{appointment.time}} with {{appointment.provider}}."
`;
    const rules = compileFromText(DEFAULTS, clinic, makeClinic({ id: 'alpha', name: 'Alpha', officePhone: '(312) 555-0199', languages: ['en', 'es'] }));
    expect(rules.quickReplies.map((q) => q.shortcode)).to.deep.equal(['call-us', 'hours', 'next']);
    expect(rules.quickReplies[0]!.source).to.deep.include({ file: 'rules/clinics/alpha.yaml', line: 3 });
    const values = { 'patient.firstName': 'Dylan', 'clinic.name': 'Alpha', 'clinic.officePhone': '(312) 555-0199' };
    const spanish = quickReplyText(rules.quickReplies[0]!, 'es');
    expect(spanish.language).to.equal('es');
    expect(renderTemplate(spanish.template, values)).to.equal('Hola Dylan, llame a Alpha al (312) 555-0199.');
    expect(renderTemplate(quickReplyText(rules.quickReplies[0]!, 'fr').template, values), 'a language the text lacks: English').to.equal('Hi Dylan, call Alpha at (312) 555-0199.');
    expect(quickReplyText(rules.quickReplies[1]!, 'es').language, 'one text for every language: filled in English').to.equal('en');
  });
});
