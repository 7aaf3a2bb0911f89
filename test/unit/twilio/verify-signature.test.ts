import { expect } from 'chai';
import { parseForm, type FormParams } from '../../../src/twilio/form-params.js';
import { verifyTwilioSignature, type SignedRequestContext } from '../../../src/twilio/verify-signature.js';
import { sign } from '../../support/twilio-sign.js';

const TOKEN = 'unit-token';
const URL = 'https://sms.example.test/v1/clinic/webhooks/twilio/sms';

/** A plain object with the request's shape: the middleware needs no Koa. */
function requestOf(body: string, signature: string | undefined): SignedRequestContext {
  return {
    get: (field) => (field.toLowerCase() === 'x-twilio-signature' ? (signature ?? '') : ''),
    originalUrl: '/v1/clinic/webhooks/twilio/sms',
    host: 'sms.example.test',
    protocol: 'https',
    request: { body: parseForm(body) },
  };
}

describe('verifyTwilioSignature (middleware)', () => {
  const refused: string[] = [];
  const seen: FormParams[] = [];
  const check = verifyTwilioSignature({
    enabled: true,
    publicBaseUrl: 'https://sms.example.test',
    tokensFor: (form) => {
      seen.push(form);
      return [TOKEN];
    },
    onRefused: (reason) => refused.push(reason),
  });

  beforeEach(() => {
    refused.length = 0;
    seen.length = 0;
  });

  it('when the signature covers the parameters, then the next step runs with the tokens chosen from the same form', async () => {
    const params = Object.fromEntries([['Body', 'HELP'], ['__proto__', 'x']]) as Record<string, string>;
    let ran = false;
    await check(requestOf('Body=HELP&__proto__=x', sign(TOKEN, URL, params)), async () => {
      ran = true;
    });
    expect(ran).to.equal(true);
    expect(Object.keys(seen[0]?.values ?? {})).to.deep.equal(['Body', '__proto__']);
  });

  it('when the signature is missing, then MISSING_SIGNATURE (400) is thrown and counted', async () => {
    await expect(check(requestOf('Body=HELP', undefined), async () => undefined)).to.be.rejected.and.eventually.include({ code: 'MISSING_SIGNATURE', status: 400 });
    expect(refused).to.deep.equal(['missing']);
  });

  it('when the signature does not match, then BAD_SIGNATURE (403) is thrown, counted, and the next step never runs', async () => {
    let ran = false;
    const signature = sign(TOKEN, URL, { Body: 'HELP' });
    await expect(
      check(requestOf('Body=HELP&__proto__=x', signature), async () => {
        ran = true;
      }),
    ).to.be.rejected.and.eventually.include({ code: 'BAD_SIGNATURE', status: 403 });
    expect(ran).to.equal(false);
    expect(refused).to.deep.equal(['invalid']);
  });

  it('when validation is off, then the next step runs unsigned', async () => {
    const off = verifyTwilioSignature({ enabled: false, publicBaseUrl: null, tokensFor: () => [] });
    let ran = false;
    await off(requestOf('Body=HELP', undefined), async () => {
      ran = true;
    });
    expect(ran).to.equal(true);
  });
});
