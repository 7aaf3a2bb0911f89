import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/logger.js';
import { reloadRules, type RulesReloadDeps } from '../../src/process/rules-reload.js';
import { closingTestApps, type TestApp } from '../support/test-app.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';

describe('rules reload: what the log says', function () {
  const buildTestApp = closingTestApps();
  this.timeout(30_000);
  let dir: string;
  let t: TestApp;
  let deps: RulesReloadDeps;

  const reloadLines = (): unknown[] => t.logs.records().filter((r) => typeof r.msg === 'string' && r.msg.startsWith('rules reloaded')).map((r) => r.msg);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reload-logs-'));
    cpSync(FIXTURE_RULES_DIR, join(dir, 'rules'), { recursive: true, filter: (src) => !src.includes(`${join(FIXTURE_RULES_DIR, 'tests')}`) });
    cpSync('test/fixtures/clinics.yaml', join(dir, 'clinics.yaml'));
    t = await buildTestApp({ config: { rulesDir: join(dir, 'rules'), clinicsFile: join(dir, 'clinics.yaml') } });
    deps = { config: t.config, env: t.env, live: t.live, logger: createLogger('info', t.logs), metrics: t.metrics };
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when only a clinic\'s business hours changed, then the reload logs "rules reloaded" naming that clinic', async () => {
    const file = join(dir, 'clinics.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    rateLimitPerMinute: 5\n', '    rateLimitPerMinute: 5\n    businessHours:\n      mon: "08:00-17:00"\n'));
    const result = await reloadRules(deps);
    expect(result).to.deep.include({ status: 'ok', changed: [] });
    expect(reloadLines()).to.deep.equal(['rules reloaded']);
    const line = t.logs.records().find((r) => r.msg === 'rules reloaded');
    expect(line?.clinicsChanged).to.deep.equal(['downtown']);
    expect(t.live.snapshot().clinics.byId.get('downtown')?.businessHours).to.deep.equal({ mon: [{ open: '08:00', close: '17:00' }] });
  });

  it('when a new clinic\'s rules file is broken and then fixed, then it is "now live", not "live again" (it never was), and no other clinic is named', async () => {
    const file = join(dir, 'clinics.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}  - id: uptown\n    name: Uptown Clinic\n    phoneNumbers: ["+13125550900"]\n    timezone: America/Chicago\n`);
    mkdirSync(join(dir, 'rules', 'clinics'), { recursive: true });
    const uptown = join(dir, 'rules', 'clinics', 'uptown.yaml');
    writeFileSync(uptown, 'version: 1\ntemplates:\n  unknown-number: "Hi {{patient.nickname}}"\n');
    const first = await reloadRules(deps);
    expect(first.status === 'ok' && first.broken).to.deep.equal(['uptown']);
    writeFileSync(uptown, 'version: 1\n');
    expect((await reloadRules(deps)).status).to.equal('ok');
    expect(t.live.snapshot().rules.has('uptown')).to.equal(true);
    // One line when uptown was added (broken), one when it came up.
    expect(reloadLines()).to.deep.equal(['rules reloaded', 'rules reloaded: now live for uptown']);
  });

  it('when a live clinic\'s own file was broken and is fixed, then that clinic alone is "fixed", not "live again": its last good rules stayed live', async () => {
    const file = join(dir, 'rules', 'clinics', 'downtown.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, 'version: 1\ntemplates:\n  unknown-number: "Hi {{patient.nickname}}"\n');
    expect((await reloadRules(deps)).status).to.equal('partial');
    writeFileSync(file, original);
    expect((await reloadRules(deps)).status).to.equal('ok');
    expect(reloadLines()).to.deep.equal(['rules reloaded: fixed for downtown (the last good rules had stayed live)']);
  });
});
