import { expect } from 'chai';
import { parseForm } from '../../../src/twilio/form-params.js';
import { toInboundMessage } from '../../../src/twilio/inbound-message.js';
import { formEncode, inboundParams } from '../../support/twilio-sign.js';

const normalize = (params: Record<string, string | string[]>) => toInboundMessage(parseForm(formEncode(params)));

describe('form parsing and normalization', () => {
  it('when keys look like qs nesting or prototype keys, then they stay literal strings', () => {
    const form = parseForm('From%5B%24ne%5D=x&__proto__=y&constructor=z&a.b=c');
    expect(Object.keys(form.values)).to.deep.equal(['From[$ne]', '__proto__', 'constructor', 'a.b']);
    expect(form.values['__proto__']).to.deep.equal(['y']);
    expect(({} as Record<string, unknown>).y).to.equal(undefined);
  });

  it('when a full Twilio payload arrives, then the message keeps optional and unknown fields as strings', () => {
    const params = inboundParams({ OptOutType: 'STOP', MessagingServiceSid: `MG${'a'.repeat(32)}`, AddOns: '{"status":"successful"}' });
    const m = normalize(params);
    expect(m).to.deep.include({ messageSid: params.MessageSid, from: '+13125550134', to: '+13125550100', body: 'HELP', numMedia: 0, numSegments: '1', optOutType: 'STOP' });
    expect(m.extra).to.include({ FromCity: 'CHICAGO', ToZip: '60602', AddOns: '{"status":"successful"}' });
    expect(m.extra).not.to.have.property('MessageSid');
  });

  it('when media is attached, then the media list is kept in order and Body may be empty', () => {
    const m = normalize(
      inboundParams({ MessageSid: `MM${'b'.repeat(32)}`, Body: '', NumMedia: '2', MediaUrl1: 'https://api.twilio.com/2', MediaContentType1: 'image/png', MediaUrl0: 'https://api.twilio.com/1', MediaContentType0: 'image/jpeg' }),
    );
    expect(m.body).to.equal('');
    expect(m.media).to.deep.equal([
      { url: 'https://api.twilio.com/1', contentType: 'image/jpeg' },
      { url: 'https://api.twilio.com/2', contentType: 'image/png' },
    ]);
  });

  for (const [name, overrides, reason] of [
    ['media without NumMedia', { NumMedia: undefined, MediaUrl0: 'https://x/1', MediaContentType0: 'a/b' }, 'media fields without NumMedia'],
    ['NumMedia over 10', { NumMedia: '11' }, 'NumMedia is not a number from 0 to 10'],
    ['a gap in the media indexes', { NumMedia: '1', MediaUrl1: 'https://x/1', MediaContentType1: 'a/b' }, 'MediaUrl0 or MediaContentType0 missing'],
    ['a media URL that is not http', { NumMedia: '1', MediaUrl0: 'javascript:alert(1)', MediaContentType0: 'a/b' }, 'MediaUrl0 is not an http(s) URL'],
    ['a lower-case MessageSid prefix', { MessageSid: `sm${'a'.repeat(32)}` }, 'MessageSid is not SM or MM followed by 32 hex digits'],
    ['a bad AccountSid', { AccountSid: 'AC1' }, 'AccountSid is not AC followed by 32 hex digits'],
    ['an empty From', { From: '   ' }, 'From is empty or too long'],
  ] as const) {
    it(`when ${name}, then it is refused with "${reason}"`, () => {
      expect(() => normalize(inboundParams(overrides))).to.throw(reason).with.property('code', 'BAD_REQUEST');
    });
  }
});
