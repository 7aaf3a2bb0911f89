import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { runCli } from '../../src/cli/index.js';
import type { CliIO } from '../../src/cli/io.js';
import { newSecret } from '../support/event-builders.js';

const RULES = resolve('test/fixtures/rules-check/good');

/**
 * Issue 27, bug 2: `rules test` and `rules simulate` send nothing, so an `events:` endpoint in
 * the clinics file (its secret set or not) must never stop them.
 */
describe('rules test and rules simulate with an events endpoint in the clinics file', function () {
  let dir: string;
  let clinicsFile: string;
  let testFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'admin-no-secrets-'));
    clinicsFile = join(dir, 'clinics.yaml');
    const clinics = await readFile('test/fixtures/rules-check/clinics.yaml', 'utf8');
    await writeFile(
      clinicsFile,
      clinics.replace('    languages: [en, es]\n', '    languages: [en, es]\n    events:\n      - url: https://pms.example.test/hooks/sms\n        secretEnv: ALPHA_EVENTS_SECRET\n'),
    );
    testFile = join(dir, 'stop.test.yaml');
    await writeFile(
      testFile,
      `rulesDir: ${RULES}\nclinicsFile: ${clinicsFile}\nclinic: alpha\ntests:\n  - name: STOP opts out\n    patients: [{ firstName: Ana }]\n    message: STOP\n    expect:\n      actions: [opt-out:opted-out]\n`,
    );
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function io(env: Record<string, string>): CliIO & { out: (l: string) => void; stdout: string[]; stderr: string[] } {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { env, cwd: process.cwd(), stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
  }

  for (const [name, env] of [
    ['not set', {}],
    ['exported', { ALPHA_EVENTS_SECRET: newSecret() }],
  ] as const) {
    it(`when the endpoint's secret is ${name}, then rules test runs the cases and passes`, async () => {
      const run = io({ ...env });
      const code = await runCli(['rules', 'test', testFile], run);
      expect(run.stderr.join('\n') + run.stdout.join('\n')).to.not.include('is not set');
      expect(code, run.stdout.join('\n') + run.stderr.join('\n')).to.equal(0);
      expect(run.stdout.join('\n')).to.include('rules test: all 1 cases passed');
    });

    it(`when the endpoint's secret is ${name}, then rules simulate shows what the message would do`, async () => {
      const run = io({ ...env, RULES_DIR: RULES, CLINICS_FILE: clinicsFile, SEED_FILE: 'none' });
      const code = await runCli(['rules', 'simulate', '--clinic', 'alpha', '--from', '+13125550111', '--body', 'STOP', '--at', '2030-01-09 10:00'], run);
      expect(code, run.stderr.join('\n')).to.equal(0);
      expect(run.stdout.join('\n')).to.include('opt-out');
    });
  }
});
