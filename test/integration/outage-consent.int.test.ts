import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SYSTEM_ERROR_TEXT } from '../../src/domain.js';
import { AppError } from '../../src/errors.js';
import { startService, type RunningService } from '../../src/main.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { backendFor } from '../support/backends.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { fixtureServiceEnv, keyMadeByCli } from '../support/service-env.js';
import { DOWNTOWN_ACCOUNT_SID } from '../support/staff-app.js';
import { switchableStore } from '../support/store-wrappers.js';
import { AUTH_TOKEN, uniquePhone } from '../support/test-app.js';
import { formEncode, inboundParams, sign } from '../support/twilio-sign.js';

/**
 * Issue 27, under a database outage: a spooled STOP or START gets its normal confirmation;
 * while a STOP waits in the spool nothing else is texted to that number (no automatic reply,
 * no staff reply); the spool's depth, oldest age and held numbers are on /readyz and /metrics.
 * The store is a real embedded store behind a switch; a second switch keeps the replayer's
 * database check failing, so the window before the replay is as long as the test needs.
 */
describe('a STOP kept in the outage spool', function () {
  this.timeout(30_000);
  let dir: string;
  let service: RunningService;
  let twilioFake: FakeTwilio;
  let base: string;
  let key: string;
  const switched = switchableStore(new MemoryStore());
  const gate = { replay: true };
  // The replayer pings before it replays: while the gate is shut, it finds the database down.
  const store = new Proxy(switched.store, {
    get(target, prop) {
      if (prop === 'ping' && gate.replay) {
        return () => Promise.reject(new AppError('STORE_UNAVAILABLE', 'replay held back (test)'));
      }
      return Reflect.get(target, prop, target) as unknown;
    },
  }) as Store;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outage-consent-'));
    twilioFake = await startFakeTwilio();
    key = await keyMadeByCli(dir);
    service = await startService(
      fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), MEDIA_DIR: join(dir, 'media'), KEYS_FILE: join(dir, 'api-keys.yaml'), TWILIO_API_BASE_URL: twilioFake.baseUrl, TWILIO_ACCOUNT_SID: DOWNTOWN_ACCOUNT_SID }),
      { backend: backendFor(store), background: false },
    );
    base = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    gate.replay = false;
    switched.down = false;
    await service?.stop();
    await twilioFake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function text(from: string, body: string): Promise<string | null> {
    const params = inboundParams({ From: from, Body: body, To: '+13125550100' });
    const url = `https://sms.example-clinic.test/v1/clinic/webhooks/twilio/sms`;
    const res = await fetch(`${base}/v1/clinic/webhooks/twilio/sms`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sign(AUTH_TOKEN, url, params) },
      body: formEncode(params),
    });
    expect(res.status).to.equal(200);
    const xml = await res.text();
    return /<Message>([^<]*)<\/Message>/.exec(xml)?.[1]?.replace(/&apos;/g, "'") ?? null;
  }

  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${base}/v1/clinics/downtown/conversations${path}`, { ...init, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) } });

  async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`not within 15 s: ${what}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('when STOP and START reach the spool, then they get their normal confirmations; later texts from the number get nothing; staff cannot reply until the STOP is applied', async () => {
    // The normal confirmations, with the database up.
    const other = uniquePhone();
    const stopText = await text(other, 'STOP');
    const startText = await text(other, 'START');
    expect(stopText).to.be.a('string').and.not.equal(SYSTEM_ERROR_TEXT);
    expect(startText).to.be.a('string').and.not.equal(stopText);
    // A patient writes to staff: a conversation opens.
    const phone = uniquePhone();
    await text(phone, 'hello there, a question for the front desk');
    const list = (await (await api('?status=open')).json()) as { conversations: { id: string; phone: string }[] };
    const conversation = list.conversations.find((c) => c.phone === phone);
    expect(conversation).to.not.equal(undefined);

    // The database goes away.
    switched.down = true;
    expect(await text(phone, 'STOP'), 'a spooled STOP').to.equal(stopText);
    expect(await text(phone, 'are you still there?'), 'after the STOP: nothing').to.equal(null);
    const bystander = uniquePhone();
    expect(await text(bystander, 'hello'), 'anyone else: the system-error text, as before').to.equal(SYSTEM_ERROR_TEXT);
    const returning = uniquePhone();
    expect(await text(returning, 'START'), 'a spooled START').to.equal(startText);

    const ready = (await (await fetch(`${base}/readyz`)).json()) as { details: { spoolDepth: number; spoolOldestAgeSeconds: number } };
    expect(ready.details.spoolDepth).to.equal(4);
    expect(ready.details.spoolOldestAgeSeconds).to.be.a('number').and.at.least(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.match(/^sms_spool_depth 4$/m).and.match(/^sms_spool_held_numbers 1$/m).and.match(/^sms_spool_oldest_age_seconds \d+(\.\d+)?$/m);

    // The database is back, the STOP not replayed yet: the number still gets nothing, and staff cannot text it.
    switched.down = false;
    expect(await text(phone, 'hello?'), 'held until the STOP is applied').to.equal(null);
    const sentBefore = twilioFake.requests.length;
    const refused = await api(`/${conversation!.id}/replies`, { method: 'POST', body: JSON.stringify({ text: 'We will call you today.' }) });
    expect(refused.status).to.equal(409);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).to.deep.include({ code: 'OPTED_OUT' });
    expect(twilioFake.requests.length).to.equal(sentBefore);

    // The replay applies the STOP: the hold ends and the number is opted out for good.
    gate.replay = false;
    await eventually(async () => service.spool.depth() === 0, 'the spool drained');
    expect((await service.store.getOptOut('downtown', phone))?.optedOut).to.equal(true);
    expect((await service.store.getOptOut('downtown', returning))?.optedOut ?? false).to.equal(false);
    expect(await (await fetch(`${base}/metrics`)).text()).to.match(/^sms_spool_held_numbers 0$/m).and.match(/^sms_spool_oldest_age_seconds 0$/m);
    const after = await api(`/${conversation!.id}/replies`, { method: 'POST', body: JSON.stringify({ text: 'We will call you today.' }) });
    expect(after.status).to.equal(409);
    expect(twilioFake.requests.length).to.equal(sentBefore);
  });
});
