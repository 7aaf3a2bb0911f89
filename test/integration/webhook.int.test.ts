import { expect } from 'chai';
import request from 'supertest';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { AppError } from '../../src/errors.js';
import { storeKinds } from '../support/store-kinds.js';
import {
  AUTH_TOKEN,
  NORTHSIDE_TOKEN,
  WEBHOOK_PATH,
  WEBHOOK_URL,
  addPatient,
  closingTestApps,
  type TestApp,
  type TestAppOptions,
  inboundParams,
  signedRequest,
  uniquePhone,
} from '../support/test-app.js';
import { formEncode, sign } from '../support/twilio-sign.js';

const UNKNOWN_NUMBER = "We don't recognize this phone number. Please contact our office directly.";
const SYSTEM_ERROR = "We're experiencing technical difficulties. Please try again later or call our office.";

const STORES = storeKinds('webhook');

/** A signed POST as a proxy would forward it: the given Host and extra headers, signed over `signedOver`. */
async function postVia(app: TestApp['app'], signedOver: string, headers: Record<string, string>) {
  const params = inboundParams({ From: uniquePhone() });
  let req = request(app.callback()).post(WEBHOOK_PATH).type('form');
  for (const [name, value] of Object.entries(headers)) {
    req = req.set(name, value);
  }
  return req.set('X-Twilio-Signature', sign(AUTH_TOKEN, `${signedOver}${WEBHOOK_PATH}`, params)).send(formEncode(params));
}

const FORWARDED = { Host: '10.0.0.5:3000', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'api.clinic.test' };

async function post(app: TestApp['app'], params: Record<string, string | string[]>, token = AUTH_TOKEN) {
  const { body, signature } = signedRequest(params, { token });
  return request(app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
}

for (const kind of STORES) {
describe(`POST /v1/clinic/webhooks/twilio/sms (${kind.name})`, function () {
  const buildAppOn = closingTestApps();
  const disposers: Array<() => Promise<void>> = [];
  let available = true;

  before(async function () {
    const probe = await kind.make();
    if (!probe) {
      available = false;
      this.skip();
    }
    await probe.dispose();
  });

  after(async () => {
    await Promise.all(disposers.splice(0).map((d) => d()));
  });

  /** A real app on a fresh store of this kind (unless the test brings its own store). */
  async function buildTestApp(options: TestAppOptions = {}) {
    if (options.store || !available) {
      return buildAppOn(options);
    }
    const made = await kind.make();
    if (!made) {
      throw new Error(`${kind.name} went away`);
    }
    disposers.push(made.dispose);
    return buildAppOn({ ...options, store: made.store });
  }

  describe('signature', () => {
    it('when the request is signed over PUBLIC_BASE_URL + path, then it answers 200 TwiML', async () => {
      const t = await buildTestApp();
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Ana' });
      const res = await post(t.app, inboundParams({ From: phone, Body: 'HELP' }));
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/xml/);
      expect(res.text).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>.*Downtown Family Clinic.*<\/Message><\/Response>$/);
    });

    it('when the query string is part of the signed URL, then it is checked with it', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ From: uniquePhone() });
      const url = `${WEBHOOK_URL}?clinic=downtown`;
      const good = await request(t.app.callback())
        .post(`${WEBHOOK_PATH}?clinic=downtown`)
        .type('form')
        .set('X-Twilio-Signature', sign(AUTH_TOKEN, url, params))
        .send(formEncode(params));
      expect(good.status).to.equal(200);
      const bad = await request(t.app.callback())
        .post(`${WEBHOOK_PATH}?clinic=elsewhere`)
        .type('form')
        .set('X-Twilio-Signature', sign(AUTH_TOKEN, url, params))
        .send(formEncode(params));
      expect(bad.status).to.equal(403);
    });

    it('when PUBLIC_BASE_URL is unset, then the URL is rebuilt from the Host header', async () => {
      const t = await buildTestApp({ config: { publicBaseUrl: null } });
      const res = await postVia(t.app, 'http://clinic.internal:8080', { Host: 'clinic.internal:8080' });
      expect(res.status).to.equal(200);
    });

    it('when TRUST_PROXY=1, then X-Forwarded-Proto and X-Forwarded-Host make the signed URL', async () => {
      const t = await buildTestApp({ config: { publicBaseUrl: null, trustProxy: true } });
      const res = await postVia(t.app, 'https://api.clinic.test', FORWARDED);
      expect(res.status).to.equal(200);
    });

    it('when proxies are not trusted, then forwarded headers cannot change the signed URL', async () => {
      const t = await buildTestApp({ config: { publicBaseUrl: null, trustProxy: false } });
      const res = await postVia(t.app, 'https://api.clinic.test', FORWARDED);
      expect(res.status).to.equal(403);
      // The same request signed over what the proxy was really called at passes.
      expect((await postVia(t.app, 'http://10.0.0.5:3000', FORWARDED)).status).to.equal(200);
    });

    it('when the body is changed after signing, then it answers 403 and stores nothing', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ From: uniquePhone(), Body: 'CONFIRM' });
      const { signature } = signedRequest(params);
      const tampered = formEncode({ ...params, Body: 'CANCEL' });
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(tampered);
      expect(res.status).to.equal(403);
      expect(res.text).to.equal('invalid X-Twilio-Signature');
      expect(await t.store.getMessage(params.MessageSid as string)).to.equal(null);
    });

    it('when it is signed with another token, then it answers 403', async () => {
      const t = await buildTestApp();
      const res = await post(t.app, inboundParams({ From: uniquePhone() }), 'some-other-token');
      expect(res.status).to.equal(403);
    });

    it('when the signature header is missing, then it answers 400 and counts it', async () => {
      const t = await buildTestApp();
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').send(formEncode(inboundParams()));
      expect(res.status).to.equal(400);
      expect(res.text).to.equal('missing X-Twilio-Signature');
      expect(await t.metrics.registry.getSingleMetricAsString('sms_signature_failures_total')).to.contain('reason="missing"} 1');
    });

    it('when the token is being rotated, then both the current and the previous token are accepted', async () => {
      const t = await buildTestApp({ config: { authTokens: ['new-token-aaaaaaaaaaaaaaaaaaaa', AUTH_TOKEN] } });
      expect((await post(t.app, inboundParams({ From: uniquePhone() }), 'new-token-aaaaaaaaaaaaaaaaaaaa')).status).to.equal(200);
      expect((await post(t.app, inboundParams({ From: uniquePhone() }), AUTH_TOKEN)).status).to.equal(200);
      expect((await post(t.app, inboundParams({ From: uniquePhone() }), 'retired-token')).status).to.equal(403);
    });

    it("when a clinic names its own token variable, then only that clinic's token signs its messages", async () => {
      const t = await buildTestApp();
      const params = inboundParams({ To: '+13125550300', From: uniquePhone() });
      expect((await post(t.app, params, AUTH_TOKEN)).status).to.equal(403);
      expect((await post(t.app, params, NORTHSIDE_TOKEN)).status).to.equal(200);
    });

    it("when To belongs to no clinic but AccountSid names a clinic's account, then that account's token is the one that signs", async () => {
      const t = await buildTestApp();
      const params = inboundParams({ To: '+13125559998', From: uniquePhone(), AccountSid: 'ACabcdefabcdefabcdefabcdefabcdefab' });
      expect((await post(t.app, params, AUTH_TOKEN)).status).to.equal(403);
      const res = await post(t.app, params, NORTHSIDE_TOKEN);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    });

    it('when signature validation is off, then unsigned requests are served', async () => {
      const t = await buildTestApp({ config: { signatureValidation: false } });
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').send(formEncode(inboundParams({ From: uniquePhone() })));
      expect(res.status).to.equal(200);
    });
  });

  describe('malformed requests', () => {
    it('when the body is JSON, then it answers 415', async () => {
      const t = await buildTestApp();
      const res = await request(t.app.callback()).post(WEBHOOK_PATH).set('X-Twilio-Signature', 'x').send({ Body: 'HELP' });
      expect(res.status).to.equal(415);
    });

    it('when the body is over the size limit, then it answers 413', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ Body: 'x'.repeat(40_000) });
      const res = await post(t.app, params);
      expect(res.status).to.equal(413);
    });

    for (const [name, overrides, reason] of [
      ['MessageSid is missing', { MessageSid: undefined, SmsMessageSid: 'x', SmsSid: 'x' }, 'missing MessageSid'],
      ['From is missing', { From: undefined }, 'missing From'],
      ['Body is missing', { Body: undefined }, 'missing Body'],
      ['MessageSid is not SM + 32 hex', { MessageSid: 'SM123' }, 'MessageSid is not SM or MM followed by 32 hex digits'],
      ['NumMedia does not match the media fields', { NumMedia: '2', MediaUrl0: 'https://api.twilio.com/m/1', MediaContentType0: 'image/jpeg' }, 'NumMedia does not match the media fields'],
      ['NumMedia is not a number', { NumMedia: 'two' }, 'NumMedia is not a number from 0 to 10'],
    ] as const) {
      it(`when ${name}, then it answers 400 with a short reason`, async () => {
        const t = await buildTestApp();
        const res = await post(t.app, inboundParams({ From: uniquePhone(), ...overrides }));
        expect(res.status).to.equal(400);
        expect(res.text).to.equal(reason);
      });
    }

    it('when From is sent as From[$ne], then it never becomes an object: the field is missing and the answer is 400', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ From: undefined, 'From[$ne]': 'x' });
      const res = await post(t.app, params);
      expect(res.status).to.equal(400);
      expect(res.text).to.equal('missing From');
    });

    it('when a key like To[$gt] rides along, then it stays a literal string parameter', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ From: uniquePhone(), 'To[$gt]': '', 'Body.x': 'y' });
      const res = await post(t.app, params);
      expect(res.status).to.equal(200);
      const stored = await t.store.getMessage(params.MessageSid as string);
      expect(stored?.message.to).to.equal('+13125550100');
      expect(stored?.message.extra['To[$gt]']).to.equal('');
      expect(stored?.message.body).to.equal('HELP');
    });

    it('when a key is repeated, then it never reaches the code as an array: 400', async () => {
      const t = await buildTestApp();
      const params = { ...inboundParams(), From: [uniquePhone(), uniquePhone()] };
      const res = await post(t.app, params);
      expect(res.status).to.equal(400);
      expect(res.text).to.equal('repeated parameter From');
    });

    it('when the request is signed but malformed, then nothing is stored', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ NumMedia: '1' });
      await post(t.app, params);
      expect(await t.store.getMessage(params.MessageSid as string)).to.equal(null);
    });
  });

  describe('clinic and patient', () => {
    it('when To belongs to no clinic, then it answers an empty Response, logs an error and counts it', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ To: '+13125559999', From: uniquePhone() });
      const res = await post(t.app, params);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal('<?xml version="1.0" encoding="UTF-8"?><Response/>');
      expect(await t.metrics.registry.getSingleMetricAsString('sms_unknown_clinic_total')).to.match(/sms_unknown_clinic_total 1$/m);
      const errors = t.logs.records().filter((r) => r.level === 50);
      expect(errors.map((r) => r.msg)).to.include('message to a number no clinic owns');
      expect((await t.store.getMessage(params.MessageSid as string))?.status).to.equal('rejected');
    });

    it('when From is not a known patient, then the reply is the seed text word for word', async () => {
      const t = await buildTestApp();
      const res = await post(t.app, inboundParams({ From: uniquePhone(), Body: 'Hello, is anyone there?' }));
      expect(res.text).to.equal(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>${UNKNOWN_NUMBER}</Message></Response>`);
    });

    it('when From is written with spaces around it, then the patient is still found', async () => {
      const t = await buildTestApp();
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Ana' });
      const params = inboundParams({ From: ` ${phone} `, Body: 'Hello' });
      const res = await post(t.app, params);
      expect(res.text).to.contain('Thank you for your message. We will respond shortly.');
    });
  });

  describe('failures after the signature check', () => {
    it('when the store throws, then the answer is the system-error TwiML and nothing internal leaks', async () => {
      class BrokenStore extends MemoryStore {
        override async touchSender(): Promise<never> {
          throw new AppError('STORE_ERROR', 'boom: secret internal detail');
        }
      }
      const t = await buildTestApp({ store: new BrokenStore() });
      const params = inboundParams({ From: uniquePhone() });
      const res = await post(t.app, params);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>${SYSTEM_ERROR}</Message></Response>`);
      expect(res.text).not.to.contain('secret');
      expect((await t.store.getMessage(params.MessageSid as string))?.status).to.equal('error');
    });

    it('when an unexpected non-AppError is thrown, then the answer is still the system-error TwiML', async () => {
      class BrokenStore extends MemoryStore {
        override async touchSender(): Promise<never> {
          throw new TypeError('Cannot read properties of undefined');
        }
      }
      const t = await buildTestApp({ store: new BrokenStore() });
      const res = await post(t.app, inboundParams({ From: uniquePhone() }));
      expect(res.status).to.equal(200);
      expect(res.text).to.contain('technical difficulties');
    });
  });

  describe('health, readiness and metrics', () => {
    it('when the process runs, then /healthz answers 200', async () => {
      const t = await buildTestApp();
      const res = await request(t.app.callback()).get('/healthz');
      expect(res.status).to.equal(200);
    });

    it('when the store answers and rules are loaded, then /readyz answers 200 with the rules versions', async () => {
      const t = await buildTestApp();
      const res = await request(t.app.callback()).get('/readyz');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({ status: 'ok', ready: true, reasons: [], degraded: [] });
      expect(res.body.details.rules).to.have.keys(['downtown', 'northside']);
      expect(res.body.details.rules_loaded_version).to.match(/^[0-9a-f]{16}$/);
    });

    it('when the store does not answer and there is no spool to keep messages in, then /readyz answers 503 with a JSON reason', async () => {
      class DownStore extends MemoryStore {
        override async ping(): Promise<void> {
          throw new AppError('STORE_UNAVAILABLE', 'down');
        }
      }
      const t = await buildTestApp({ store: new DownStore() });
      const res = await request(t.app.callback()).get('/readyz');
      expect(res.status).to.equal(503);
      expect(res.body).to.deep.include({ status: 'unavailable', ready: false, reasons: ['store unreachable and no spool'] });
    });

    it('when messages were handled, then /metrics shows requests by outcome and the latency histogram', async () => {
      const t = await buildTestApp();
      await post(t.app, inboundParams({ From: uniquePhone() }));
      await post(t.app, inboundParams({ From: uniquePhone() }), 'wrong');
      const res = await request(t.app.callback()).get('/metrics');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/plain/);
      expect(res.text).to.match(/sms_webhook_requests_total\{outcome="unknown-number"\} 1/);
      expect(res.text).to.match(/sms_webhook_requests_total\{outcome="forbidden"\} 1/);
      expect(res.text).to.contain('sms_webhook_duration_seconds_bucket');
    });
  });

  describe('logs', () => {
    it('when messages of every kind pass through, then no phone number, name or body appears in the logs', async () => {
      const t = await buildTestApp();
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Zebulon', lastName: 'Quixote' }, [{ startsAt: new Date(Date.now() + 86_400_000) }]);
      const bodies = ['CONFIRM', 'My rash is worse xyzzy', 'STOP', 'START', 'HELP'];
      for (const Body of bodies) {
        await post(t.app, inboundParams({ From: phone, Body }));
      }
      await post(t.app, inboundParams({ From: phone, Body: 'tampered' }), 'wrong-token');
      await post(t.app, inboundParams({ From: phone, To: '+13125559999', Body: 'lost xyzzy' }));
      await post(t.app, inboundParams({ From: phone, NumMedia: '1', MediaUrl0: 'https://api.twilio.com/secret-media', MediaContentType0: 'image/png' }));
      const text = t.logs.text();
      // One line a request, carrying what the pipeline did (MessageSid, masked sender, rules, actions).
      const requestLines = t.logs.records().filter((r) => r.msg === 'request');
      expect(requestLines).to.have.length(bodies.length + 3);
      const confirmLine = requestLines[0] as Record<string, unknown>;
      expect(confirmLine).to.include({ outcome: 'processed', sender: `***${phone.slice(-2)}` });
      expect(confirmLine.rules).to.deep.equal(['confirm-appointment']);
      expect(confirmLine.actions).to.deep.equal(['confirm-appointment:confirmed']);
      expect(confirmLine.sid).to.match(/^SM[0-9a-f]{32}$/);
      expect(t.logs.records().filter((r) => r.msg === 'message handled')).to.have.length(0);
      const digits = phone.slice(2);
      expect(text).not.to.contain(digits);
      expect(text).not.to.contain(digits.slice(-7));
      expect(text).not.to.contain('5559999');
      expect(text).not.to.contain('xyzzy');
      expect(text).not.to.contain('Zebulon');
      expect(text).not.to.contain('Quixote');
      expect(text).not.to.contain('secret-media');
      expect(text).to.contain(`***${digits.slice(-2)}`);
      // The start's own lines (buildService: the embedded store's warning, components ready) come before any request.
      const firstRequest = t.logs.records().findIndex((r) => 'requestId' in r || 'sid' in r);
      for (const record of t.logs.records().slice(firstRequest)) {
        expect(record).to.satisfy((r: Record<string, unknown>) => 'requestId' in r || 'sid' in r || 'component' in r, JSON.stringify(record));
      }
    });
  });
});
}
