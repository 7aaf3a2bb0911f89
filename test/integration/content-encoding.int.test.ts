import http from 'node:http';
import zlib from 'node:zlib';
import { expect } from 'chai';
import { closingTestApps, inboundParams, signedRequest, uniquePhone, WEBHOOK_PATH, type TestApp } from '../support/test-app.js';
import { listenOnPort0, sendRaw, type Listening } from '../support/http-client.js';

/** Twilio never compresses webhook bodies: every encoding but identity is refused before the body is read. */
describe('webhook Content-Encoding', () => {
  const buildTestApp = closingTestApps();
  let t: TestApp;
  let listening: Listening;

  before(async () => {
    t = await buildTestApp();
    listening = await listenOnPort0(http.createServer(t.app.callback()));
  });

  after(async () => {
    await listening.close();
  });

  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

  function post(encoding: string, body: Buffer, signature?: string) {
    return sendRaw(listening.port, {
      method: 'POST',
      path: WEBHOOK_PATH,
      headers: { ...FORM, 'content-encoding': encoding, ...(signature === undefined ? {} : { 'x-twilio-signature': signature }) },
      body,
    });
  }

  const signed = signedRequest(inboundParams({ From: uniquePhone() }));
  const plain = Buffer.from(signed.body);
  const compress: Record<string, (b: Buffer) => Buffer> = {
    gzip: (b) => zlib.gzipSync(b),
    deflate: (b) => zlib.deflateSync(b),
    br: (b) => zlib.brotliCompressSync(b),
  };

  for (const [encoding, pack] of Object.entries(compress)) {
    const whole = pack(plain);
    const broken: Array<[string, Buffer]> = [
      ['corrupt', Buffer.from('notcompressed')],
      ['truncated', whole.subarray(0, Math.floor(whole.length / 2))],
      ['followed by trailing junk', Buffer.concat([whole, Buffer.from('trailing-junk')])],
    ];
    for (const [what, body] of broken) {
      it(`when a ${encoding} body is ${what} (unsigned), then it answers 415, never 5xx`, async () => {
        const res = await post(encoding, body);
        expect(res.status).to.equal(415);
        expect(res.text).to.equal('Content-Encoding is not accepted: send the form uncompressed');
      });

      it(`when a ${encoding} body is ${what} (signed over its params), then it answers 415, never 5xx`, async () => {
        const res = await post(encoding, body, signed.signature);
        expect(res.status).to.equal(415);
      });
    }

    it(`when a well-formed ${encoding} body is correctly signed, then it is still refused with 415 and nothing is stored`, async () => {
      const params = inboundParams({ From: uniquePhone() });
      const req = signedRequest(params);
      const res = await post(encoding, pack(Buffer.from(req.body)), req.signature);
      expect(res.status).to.equal(415);
      expect(await t.store.getMessage(params.MessageSid as string)).to.equal(null);
    });
  }

  it('when the encoding is one nobody supports (compress, x-custom), then it answers 415', async () => {
    for (const encoding of ['compress', 'x-custom', 'gzip, identity']) {
      const res = await post(encoding, plain, signed.signature);
      expect(res.status, encoding).to.equal(415);
    }
  });

  it('when a 64 MiB gzip bomb is posted, then it answers 415 without inflating a byte', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 'a'));
    const before = process.memoryUsage().arrayBuffers;
    const res = await post('gzip', bomb);
    expect(res.status).to.equal(415);
    // Inflating would have taken 64 MiB; what is read here is only the compressed ~64 KB (if at all).
    expect(process.memoryUsage().arrayBuffers - before).to.be.below(16 * 1024 * 1024);
  });

  it('when Content-Encoding is identity, then the signed form is served as usual', async () => {
    const params = inboundParams({ From: uniquePhone() });
    const req = signedRequest(params);
    const res = await post('identity', Buffer.from(req.body), req.signature);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/xml/);
  });
});
