import { expect } from 'chai';
import { countSegments, describeNonGsm } from '../../../../src/sms-segments.js';

describe('SMS segment counting', () => {
  it('when a GSM-7 text has 160 characters, then it is one segment; 161 makes two of 153', () => {
    expect(countSegments('a'.repeat(160))).to.include({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(countSegments('a'.repeat(161)).segments).to.equal(2);
    expect(countSegments('a'.repeat(306)).segments).to.equal(2);
    expect(countSegments('a'.repeat(307)).segments).to.equal(3);
  });

  it('when a text has extension characters (€ [ ] { } ^ ~ | \\), then each counts twice', () => {
    expect(countSegments('€'.repeat(80))).to.include({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(countSegments('{'.repeat(81)).segments).to.equal(2);
  });

  it('when a text has GSM-7 accents (é ñ ü ¿ ¡), then it stays GSM-7', () => {
    expect(countSegments('¿Qué tal, señor Müller? ¡Bien!').encoding).to.equal('GSM-7');
  });

  it('when a text has one character outside GSM-7 (á, í, curly quote, emoji), then it is UCS-2 at 70 a segment, 67 a part', () => {
    const count = countSegments(`${'a'.repeat(69)}á`);
    expect(count).to.include({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(countSegments(`${'a'.repeat(70)}á`).segments).to.equal(2);
    expect(countSegments('a'.repeat(134).concat('’')).segments).to.equal(3);
    expect(countSegments('👍').units).to.equal(2);
    expect(describeNonGsm(countSegments('está aquí'))).to.equal('UCS-2 because of "á", "í"');
  });

  it('when a text is empty, then it takes no segment', () => {
    expect(countSegments('').segments).to.equal(0);
  });
});
