import { expect } from 'chai';
import twilio from 'twilio';
import { renderTwiml } from '../../../src/twilio/twiml.js';

/** twilio's own builder: the reference the hand-written TwiML must equal. */
function byTwilio(text: string | null): string {
  const response = new twilio.twiml.MessagingResponse();
  if (text !== null && text !== '') {
    response.message(text);
  }
  return response.toString();
}

describe('renderTwiml', () => {
  const samples = [
    'Thank you for your message. We will respond shortly.',
    'a & b <c> "q" \'x\' \r\n &amp; already-escaped',
    ']]> <![CDATA[ x ]]> <!-- c --> <?pi?>',
    'Ana María López, su cita es el martes 3 de marzo a las 9:30 a. m. ¿Confirma? Responda SÍ',
    'emoji 😀👍🏽 and CJK 予約 and RTL مرحبا',
    'tab\there, newline\nthere, CR\rthere',
    '   leading and trailing spaces   ',
  ];
  for (const text of samples) {
    it(`when the reply is ${JSON.stringify(text.slice(0, 24))}..., then the TwiML equals twilio's MessagingResponse byte for byte`, () => {
      expect(renderTwiml(text)).to.equal(byTwilio(text));
    });
  }

  it('when there is no reply (null or empty), then it is an empty <Response/>, as twilio builds it', () => {
    expect(renderTwiml(null)).to.equal(byTwilio(null));
    expect(renderTwiml('')).to.equal(byTwilio(null));
  });

  it('when the text holds characters XML cannot carry, then they are dropped (twilio would throw) and the rest is sent', () => {
    const bad = 'Hi\u0000 there\u0008\uFFFF \uD800lone \uDC00 surrogates, 😀 kept';
    expect(() => byTwilio(bad)).to.throw();
    const clean = 'Hi there lone  surrogates, 😀 kept';
    expect(renderTwiml(bad)).to.equal(byTwilio(clean));
  });
});
