import { expect } from 'chai';
import { parseClinics } from '../../../src/config/clinics-file.js';
import type { AppError } from '../../../src/errors.js';

function findingsOf(text: string): string[] {
  try {
    parseClinics(text, 'clinics.yaml');
  } catch (err) {
    return (err as AppError).findings.map((f) => `${f.line}:${f.col} ${f.message}`);
  }
  return [];
}

describe('clinics file', () => {
  it('when the file is valid, then clinics are indexed by number and id with defaults filled', () => {
    const { byNumber, byId } = parseClinics(
      `clinics:\n  - id: a\n    name: A\n    phoneNumbers: ["+13125550100"]\n    timezone: America/Chicago\n    businessHours:\n      mon: "08:00-12:00"\n`,
      'c.yaml',
    );
    expect(byNumber.get('+13125550100')?.id).to.equal('a');
    expect(byId.get('a')).to.deep.include({ languages: ['en'], defaultRegion: 'US', rateLimitPerMinute: 10, autoReply: true });
    expect(byId.get('a')?.businessHours).to.deep.equal({ mon: [{ open: '08:00', close: '12:00' }] });
  });

  it('when several fields are wrong, then every problem is reported with its line and column', () => {
    const findings = findingsOf(
      [
        'clinics:',
        '  - id: a',
        '    name: A',
        '    phoneNumbers: ["3125550100"]',
        '    timezone: Mars/Olympus',
        '  - id: b',
        '    phoneNumbers: ["+13125550200"]',
        '    timezone: UTC',
        '    colour: blue',
      ].join('\n'),
    );
    expect(findings).to.deep.equal([
      '4:20 clinics[0].phoneNumbers[0]: "3125550100" is not E.164 (e.g. +13125550100)',
      '5:15 clinics[0].timezone: required IANA time zone (e.g. America/Chicago)',
      '6:5 clinics[1].name: required text',
      '9:5 clinics[1]: unknown field "colour"',
    ]);
  });

  it('when accountSid is not a Twilio account SID, then it is refused with its position', () => {
    expect(findingsOf('- {id: a, name: A, timezone: UTC, phoneNumbers: ["+13125550100"], accountSid: AC12}\n')).to.deep.equal([
      '1:79 clinics[0].accountSid: expected AC followed by 32 hex digits',
    ]);
  });

  it('when one number is listed by two clinics, then it is refused', () => {
    const findings = findingsOf(
      'clinics:\n  - {id: a, name: A, timezone: UTC, phoneNumbers: ["+13125550100"]}\n  - {id: b, name: B, timezone: UTC, phoneNumbers: ["+13125550100"]}\n',
    );
    expect(findings).to.have.length(1);
    expect(findings[0]).to.match(/^3:\d+ clinics\[1\]\.phoneNumbers\[0\]: \+13125550100 already belongs to clinic "a"$/);
  });

  it('when the YAML is broken, then the syntax error has a position', () => {
    const findings = findingsOf('clinics:\n  - id: a\n   name: [unclosed\n');
    expect(findings.length).to.be.greaterThan(0);
    expect(findings[0]).to.match(/^\d+:\d+ /);
  });

  it('when business hours are malformed, then the day is named', () => {
    const findings = findingsOf('- {id: a, name: A, timezone: UTC, phoneNumbers: ["+13125550100"], businessHours: {mon: "17:00-08:00", funday: "1-2"}}\n');
    expect(findings.some((f) => f.includes('businessHours.mon'))).to.equal(true);
    expect(findings.some((f) => f.includes('unknown weekday "funday"'))).to.equal(true);
  });
});
