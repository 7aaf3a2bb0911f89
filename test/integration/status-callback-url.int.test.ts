import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { newId } from '../../src/conversations/conversation-service.js';
import { STATUS_CALLBACK_PATH, listeningOrigin, statusCallbackUrl } from '../../src/conversations/status-callback-url.js';
import { startService, type RunningService } from '../../src/main.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { fixtureServiceEnv, keyMadeByCli } from '../support/service-env.js';
import { DOWNTOWN_ACCOUNT_SID, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { AUTH_TOKEN, PUBLIC_BASE_URL, uniquePhone } from '../support/test-app.js';
import { formEncode, inboundParams, sign } from '../support/twilio-sign.js';

const BASE = '/v1/clinics/downtown/conversations';
const ATTACKER = 'https://attacker.example/collect?x=';

/** A conversation for a fresh phone, as the pipeline opens one for a routed message. */
async function aConversation(t: StaffTestApp): Promise<string> {
  const id = newId('cv');
  await t.stores.conversations.recordRouted({ clinicId: 'downtown', phone: uniquePhone(), clinicNumber: '+13125550100', messageSid: `SM${'7'.repeat(32)}`, at: new Date(), body: 'hi', patients: [] }, id);
  return id;
}

describe("a staff reply's StatusCallback comes from configuration only", function () {
  let twilioFake: FakeTwilio;
  const built: StaffTestApp[] = [];

  before(async () => {
    twilioFake = await startFakeTwilio();
  });

  after(async () => {
    await Promise.all(built.splice(0).map((t) => t.dispose()));
    await twilioFake.close();
  });

  async function reply(config: { publicBaseUrl: string | null }, headers: Record<string, string>): Promise<Record<string, string>> {
    const t = await buildStaffApp({ store: new MemoryStore(), dbName: 'unused', dispose: async () => undefined }, { twilioApiBaseUrl: twilioFake.baseUrl, ...config });
    built.push(t);
    const key = t.key('downtown', ['conversations:read', 'conversations:write']);
    const id = await aConversation(t);
    const before = twilioFake.requests.length;
    const res = await request(t.app.callback()).post(`${BASE}/${id}/replies`).set({ Authorization: `Bearer ${key}`, ...headers }).send({ text: 'We will call you today.' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const sent = twilioFake.requests.slice(before);
    expect(sent).to.have.length(1);
    return sent[0]!.params;
  }

  it('when a reply is sent with an Origin header of another site, then the StatusCallback is still PUBLIC_BASE_URL + the callback path', async () => {
    const params = await reply({ publicBaseUrl: PUBLIC_BASE_URL }, { Origin: ATTACKER, 'X-Forwarded-Host': 'attacker.example' });
    expect(params.StatusCallback).to.equal(`${PUBLIC_BASE_URL}${STATUS_CALLBACK_PATH}`);
  });

  it('when no origin is configured, then the reply asks for no StatusCallback: never "null/…", never the Origin header', async () => {
    const plain = await reply({ publicBaseUrl: null }, {});
    expect(plain).to.not.have.property('StatusCallback');
    const hostile = await reply({ publicBaseUrl: null }, { Origin: ATTACKER });
    expect(hostile).to.not.have.property('StatusCallback');
    expect(Object.values(hostile).join(' ')).to.not.include('attacker');
  });

  it('when the origin is not an absolute http(s) URL, then no StatusCallback is built from it', () => {
    expect(statusCallbackUrl(null)).to.equal(undefined);
    expect(statusCallbackUrl('')).to.equal(undefined);
    expect(statusCallbackUrl('null')).to.equal(undefined);
    expect(statusCallbackUrl('/relative')).to.equal(undefined);
    expect(statusCallbackUrl('javascript:alert(1)')).to.equal(undefined);
    expect(statusCallbackUrl('https://sms.example.com')).to.equal(`https://sms.example.com${STATUS_CALLBACK_PATH}`);
    expect(statusCallbackUrl('https://sms.example.com/prefix')).to.equal(`https://sms.example.com/prefix${STATUS_CALLBACK_PATH}`);
  });

  it('when the server listens on a wildcard or IPv6 address, then the development origin is one a local client reaches', () => {
    expect(listeningOrigin({ address: '0.0.0.0', family: 'IPv4', port: 3000 })).to.equal('http://127.0.0.1:3000');
    expect(listeningOrigin({ address: '::', family: 'IPv6', port: 3000 })).to.equal('http://127.0.0.1:3000');
    expect(listeningOrigin({ address: '::1', family: 'IPv6', port: 4000 })).to.equal('http://[::1]:4000');
    expect(listeningOrigin({ address: '10.0.0.5', family: 'IPv4', port: 80 })).to.equal('http://10.0.0.5:80');
    expect(listeningOrigin(null)).to.equal(null);
  });
});

describe('a staff reply from a development server without PUBLIC_BASE_URL', function () {
  this.timeout(30_000);
  let dir: string;
  let service: RunningService;
  let twilioFake: FakeTwilio;
  let key: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'callback-dev-'));
    key = await keyMadeByCli(dir);
    twilioFake = await startFakeTwilio();
    const env = fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), MEDIA_DIR: join(dir, 'media'), KEYS_FILE: join(dir, 'api-keys.yaml'), TWILIO_API_BASE_URL: twilioFake.baseUrl, TWILIO_ACCOUNT_SID: DOWNTOWN_ACCOUNT_SID });
    delete env.PUBLIC_BASE_URL;
    service = await startService(env);
  });

  after(async () => {
    await service?.stop();
    await twilioFake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('when staff answer a conversation, then the StatusCallback is the address the service listens on, whatever Origin the request carried', async () => {
    const port = (service.server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    const auth = { Authorization: `Bearer ${key}` };
    // A message from a number no patient has opens a conversation.
    const params = inboundParams({ From: uniquePhone(), Body: 'hello, is anyone there?' });
    const url = `${base}/v1/clinic/webhooks/twilio/sms`;
    const hook = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sign(AUTH_TOKEN, url, params) }, body: formEncode(params) });
    expect(hook.status).to.equal(200);
    const listed = await fetch(`${base}${BASE}`, { headers: auth });
    expect(listed.status).to.equal(200);
    const list = (await listed.json()) as { conversations: { id: string }[] };
    expect(list.conversations).to.have.length(1);
    const res = await fetch(`${base}${BASE}/${list.conversations[0]!.id}/replies`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', Origin: ATTACKER },
      body: JSON.stringify({ text: 'We will call you today.' }),
    });
    expect(res.status, await res.clone().text()).to.equal(201);
    expect(twilioFake.requests.at(-1)?.params.StatusCallback).to.equal(`${base}${STATUS_CALLBACK_PATH}`);
  });
});
