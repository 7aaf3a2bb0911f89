import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { newId } from '../../src/conversations/conversation-service.js';
import { startService } from '../../src/main.js';
import { loadStartupConfig } from '../../src/process/startup-config.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { createLogCapture } from '../support/log-capture.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { uniquePhone } from '../support/test-app.js';

const noKeys = async (): Promise<null> => null;

describe('staff replies without Twilio credentials', function () {
  let twilioFake: FakeTwilio;
  const built: StaffTestApp[] = [];

  before(async () => {
    twilioFake = await startFakeTwilio();
  });

  after(async () => {
    await Promise.all(built.splice(0).map((t) => t.dispose()));
    await twilioFake.close();
  });

  it('when the clinic has no account SID, then the reply answers 409 TWILIO_NOT_CONFIGURED naming what to set, not "internal error", and nothing is sent', async () => {
    const t = await buildStaffApp({ store: new MemoryStore(), dbName: 'unused', dispose: async () => undefined }, { twilioApiBaseUrl: twilioFake.baseUrl, twilioAccountSid: null });
    built.push(t);
    const key = t.key('downtown', ['conversations:read', 'conversations:write']);
    const id = newId('cv');
    await t.stores.conversations.recordRouted({ clinicId: 'downtown', phone: uniquePhone(), clinicNumber: '+13125550100', messageSid: `SM${'8'.repeat(32)}`, at: new Date(), body: 'hi', patients: [] }, id);
    const before = twilioFake.requests.length;
    const res = await request(t.app.callback()).post(`/v1/clinics/downtown/conversations/${id}/replies`).set('Authorization', `Bearer ${key}`).send({ text: 'We will call.' });
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('TWILIO_NOT_CONFIGURED');
    expect(res.body.error.message).to.equal('clinic downtown cannot send staff replies: no Twilio account SID (set TWILIO_ACCOUNT_SID, or accountSid in its clinics entry); nothing was sent');
    expect(twilioFake.requests.length).to.equal(before);
    const thread = await request(t.app.callback()).get(`/v1/clinics/downtown/conversations/${id}`).set('Authorization', `Bearer ${key}`);
    expect(thread.status).to.equal(200);
    expect(thread.body.entries.filter((e: { type: string }) => e.type === 'outbound')).to.deep.equal([]);
  });
});

describe('the start-up check that replies can be sent', function () {
  this.timeout(30_000);

  it('when no clinic has an account SID, then the start goes on and logs one warning a clinic naming what is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'send-check-'));
    const logs = createLogCapture();
    const env = fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), MEDIA_DIR: join(dir, 'media'), LOG_LEVEL: 'info' });
    const service = await startService(env, { logDestination: logs, background: false });
    try {
      const warned = logs.records().filter((r) => r.level === 40 && String(r.msg).includes('cannot send staff replies'));
      // northside names its own accountSid in the fixture clinics file.
      expect(warned.map((r) => r.msg)).to.deep.equal([
        'environment: warning: clinic downtown cannot send staff replies: no Twilio account SID (set TWILIO_ACCOUNT_SID, or accountSid in its clinics entry); they answer 409 TWILIO_NOT_CONFIGURED',
      ]);
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when the account SID is set, then there is no warning; when the start fails for another reason, then the warnings are listed with its problems', async () => {
    const ok = await loadStartupConfig(fixtureServiceEnv({ TWILIO_ACCOUNT_SID: `AC${'e'.repeat(32)}` }), noKeys);
    expect(ok.warnings).to.deep.equal([]);
    const failed = await loadStartupConfig(fixtureServiceEnv({ PORT: 'eighty' }), noKeys).then(
      () => null,
      (err: { findings: { message: string; severity?: string }[] }) => err,
    );
    expect(failed?.findings.map((f) => f.message)).to.include('PORT must be a whole number from 0 to 65535, got "eighty"');
    expect(failed?.findings.filter((f) => f.severity === 'warning').map((f) => f.message)).to.have.length(1);
  });
});
