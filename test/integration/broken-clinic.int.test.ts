import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startService, type RunningService } from '../../src/main.js';
import { createLogCapture, type LogCapture } from '../support/log-capture.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, addPatient, WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { fixtureServiceEnv } from '../support/service-env.js';

const SYSTEM_ERROR = "We're experiencing technical difficulties. Please try again later or call our office.";
const DOWNTOWN = '+13125550100';
const NORTHSIDE = '+13125550300';
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The fixture clinics, with `northside` changed by `edit`. */
async function clinicsFile(dir: string, edit: (text: string) => string = (t) => t): Promise<string> {
  const file = path.join(dir, 'clinics.yaml');
  await fs.writeFile(file, edit(await fs.readFile('test/fixtures/clinics.yaml', 'utf8')));
  return file;
}

const waitFor = async (check: () => Promise<boolean>, ms = 5000): Promise<void> => {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) {
      throw new Error(`condition not met within ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('start-up with a broken clinic', () => {
  let dir: string;
  let service: RunningService | null = null;
  let logs: LogCapture;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-broken-'));
    await fs.cp('test/fixtures/rules/good', path.join(dir, 'rules'), { recursive: true });
    logs = createLogCapture();
  });

  afterEach(async () => {
    await service?.stop();
    service = null;
    await fs.rm(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string>): Record<string, string> =>
    fixtureServiceEnv({ RULES_DIR: path.join(dir, 'rules'), SPOOL_DIR: path.join(dir, 'spool'), KEYS_FILE: path.join(dir, 'no-keys.yaml'), LOG_LEVEL: 'info', ...extra });

  /** A keyword from a patient of the clinic that owns `to`: HOURS for downtown (whose file disables HELP), HELP for northside. */
  async function post(to: string, token: string): Promise<{ status: number; text: string; sid: string }> {
    const from = uniquePhone();
    await addPatient((service as RunningService).store, { phone: from, clinicId: to === NORTHSIDE ? 'northside' : 'downtown' });
    const params = inboundParams({ From: from, To: to, Body: to === NORTHSIDE ? 'HELP' : 'HOURS' });
    const { body, signature } = signedRequest(params, { token });
    const res = await request((service as RunningService).server).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
    return { status: res.status, text: res.text, sid: params.MessageSid as string };
  }

  it("when one clinic's entry is invalid at start, then the others are served, its messages are recorded under it and answered with the system-error text, and /readyz and /metrics name it", async () => {
    const file = await clinicsFile(dir, (t) => t.replace('timezone: America/Chicago\n    authTokenEnv', 'timezone: Nowhere/Land\n    authTokenEnv'));
    service = await startService(env({ CLINICS_FILE: file }), { logDestination: logs });

    const served = await post(DOWNTOWN, AUTH_TOKEN);
    expect(served.text, served.text).to.contain('Open 8-5 at Downtown Family Clinic.');
    const broken = await post(NORTHSIDE, NORTHSIDE_TOKEN);
    expect(broken.status).to.equal(200);
    expect(broken.text).to.contain(SYSTEM_ERROR);
    const record = await service.store.getMessage(broken.sid);
    expect(record).to.deep.include({ clinicId: 'northside', status: 'error', error: 'CONFIG_INVALID' });

    const ready = await request(service.server).get('/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.include({ status: 'degraded', ready: true });
    expect(ready.body.degraded).to.include('clinic not served (configuration invalid): northside');
    expect(ready.body.details.brokenClinics.northside.part).to.equal('entry');
    expect(ready.body.details.brokenClinics.northside.findings[0]).to.match(new RegExp(`^${escape(file)}:13:15: clinics\\[1\\]\\.timezone`));
    expect(Object.keys(ready.body.details.rules)).to.deep.equal(['downtown']);
    const metrics = (await request(service.server).get('/metrics')).text;
    expect(metrics).to.match(/^sms_clinic_config_broken\{clinic="northside"\} 1$/m);
    expect(logs.records().map((r) => r.msg)).to.include(
      'clinic not served, configuration invalid: northside; their messages are recorded and answered with the system-error text (STRICT_START=1 stops the start instead)',
    );
  });

  it("when a clinic's rules are invalid at start, then it is not served until the file is fixed, and hot reload then brings it up with one log line", async () => {
    const rulesFile = path.join(dir, 'rules', 'clinics', 'downtown.yaml');
    const good = await fs.readFile(rulesFile, 'utf8');
    await fs.writeFile(rulesFile, 'version: 1\ntemplates:\n  help: "Hi {{patient.nickname}}"\n');
    service = await startService(env({ CLINICS_FILE: await clinicsFile(dir), WATCH_RULES: 'on' }), { logDestination: logs });

    const before = await post(DOWNTOWN, AUTH_TOKEN);
    expect(before.text, before.text).to.contain(SYSTEM_ERROR);
    expect(await service.store.getMessage(before.sid)).to.deep.include({ clinicId: 'downtown', status: 'error', error: 'RULES_INVALID' });
    expect((await post(NORTHSIDE, NORTHSIDE_TOKEN)).text).to.contain('Help for Northside Clinic.');
    const ready = await request(service.server).get('/readyz');
    expect(ready.body.details.brokenClinics.downtown.part).to.equal('rules');
    expect(ready.body.details.brokenClinics.downtown.findings[0]).to.match(new RegExp(`^${escape(rulesFile)}:3:13: templates.help: unknown merge field`));
    const loadedAt = ready.body.details.rulesLoadedAt as string;

    await fs.writeFile(rulesFile, good);
    const server = service.server;
    await waitFor(async () => (await request(server).get('/readyz')).body.details.brokenClinics === undefined);

    expect((await post(DOWNTOWN, AUTH_TOKEN)).text).to.contain('Open 8-5 at Downtown Family Clinic.');
    const after = await request(server).get('/readyz');
    expect(after.body).to.deep.include({ status: 'ok', degraded: [] });
    expect(after.body.details.rulesLoadedAt).to.not.equal(loadedAt);
    expect((await request(server).get('/metrics')).text).to.not.match(/^sms_clinic_config_broken\{/m);
    expect(logs.records().filter((r) => typeof r.msg === 'string' && r.msg.startsWith('rules reloaded')).map((r) => r.msg)).to.deep.equal(['rules reloaded: now live for downtown']);
  });

  it('when STRICT_START=1 and a clinic is invalid, then start-up fails with every finding of it', async () => {
    const file = await clinicsFile(dir, (t) => t.replace('timezone: America/Chicago\n    authTokenEnv', 'timezone: Nowhere/Land\n    authTokenEnv').replace('"+13125550300"', '"555"'));
    await expect(startService(env({ CLINICS_FILE: file, STRICT_START: '1' }), { logDestination: logs }))
      .to.be.rejectedWith('invalid configuration (2 problems)')
      .and.eventually.have.property('findings')
      .that.satisfies((findings: Array<{ file: string; line: number; message: string; severity?: string }>) => {
        // Start-up warnings (a clinic that cannot send staff replies) are listed after the problems.
        expect(findings.filter((f) => f.severity !== 'warning').map((f) => `${path.basename(f.file)}:${f.line}: ${f.message.split(':')[0] ?? ''}`)).to.deep.equal([
          'clinics.yaml:11: clinics[1].phoneNumbers[0]',
          'clinics.yaml:13: clinics[1].timezone',
        ]);
        return true;
      });
  });
});
