// Reads the live rules/ on purpose in one test only: the shipped rules pass `rules check --strict`. Everything else uses FIXTURE_RULES_DIR.
import { expect } from 'chai';
import { runCli } from '../../../src/cli/index.js';
import type { CliIO } from '../../../src/cli/io.js';
import { FIXTURE_RULES_DIR } from '../../support/fixture-rules.js';

function captureIO(env: Record<string, string> = {}): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, cwd: process.cwd(), stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const DIR = 'test/fixtures/rules-check';

describe('clinic-sms rules check', () => {
  it('when the files are valid, then it prints OK and exits 0', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'check', `${DIR}/good`, '--clinics', `${DIR}/clinics.yaml`], io)).to.equal(0);
    expect(io.stdout).to.deep.equal([
      `alpha: may text opted-out numbers: opt-in (opt-in, ${DIR}/good/default.yaml:23:5), help (help, ${DIR}/good/default.yaml:30:5)`,
      `beta: may text opted-out numbers: opt-in (opt-in, ${DIR}/good/default.yaml:23:5), help (help, ${DIR}/good/default.yaml:30:5)`,
      'rules check: OK, 2 files; clinics ready: alpha, beta',
    ]);
  });

  it('when there are errors, then every finding is printed as file:line:col: reason, then the summary, all on stdout in that order, and it exits 1', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'check', `${DIR}/errors`, '--clinics', `${DIR}/clinics.yaml`], io)).to.equal(1);
    expect(io.stderr).to.deep.equal([]);
    const text = io.stdout.join('\n');
    expect(text).to.include(`${DIR}/errors/default.yaml:22:20: rules[2].event.type: unknown action "send-email"`);
    expect(text).to.match(/rules check: 8 errors, 0 warnings in 4 files; clinics ready: none$/);
  });

  it('when there are only warnings, then it exits 0, and 1 with --strict', async () => {
    const args = ['rules', 'check', `${DIR}/warnings`, '--clinics', `${DIR}/clinics.yaml`];
    const io = captureIO();
    expect(await runCli(args, io)).to.equal(0);
    expect(io.stdout.join('\n')).to.include('warning: keywords.CANCEL.en[0]');
    expect(io.stdout.at(-1)).to.match(/^rules check: 0 errors, \d+ warnings in 4 files/);
    const strict = captureIO();
    expect(await runCli([...args, '--strict'], strict)).to.equal(1);
    expect(strict.stderr).to.deep.equal([]);
    expect(strict.stdout.at(-1)).to.match(/--strict: warnings fail the check\)$/);
  });

  it('when warnings are accepted in the files, then the summary counts them ("N accepted") and lists none of them', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'check', `${DIR}/accepted`, '--clinics', `${DIR}/clinics.yaml`], io)).to.equal(0);
    expect(io.stdout.at(-1)).to.equal('rules check: 0 errors, 2 warnings, 2 accepted in 3 files; clinics ready: alpha, beta');
    expect(io.stdout.slice(0, -1).every((l) => !l.includes('"parking"'))).to.equal(true);
    expect(io.stdout.join('\n').split('\n')[0]).to.match(/ \[reply-length\]$/);
  });

  it('when the shipped rules are checked with --strict, then it passes: every warning is accepted next to its line', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'check', '--strict', 'rules', '--clinics', 'config/clinics.yaml'], io)).to.equal(0);
    expect(io.stdout).to.have.length(3);
    expect(io.stdout[0]).to.match(/^downtown: may text opted-out numbers: opt-in \(opt-in, rules\/default.yaml:\d+:5\), help \(help, rules\/default.yaml:\d+:5\)$/);
    expect(io.stdout.at(-1)).to.match(/^rules check: OK, 3 files, \d+ accepted; clinics ready: downtown, lakeside$/);
  });

  it('when RULES_DIR and CLINICS_FILE are set, then they are the defaults', async () => {
    const io = captureIO({ RULES_DIR: `${DIR}/good`, CLINICS_FILE: `${DIR}/clinics.yaml` });
    expect(await runCli(['rules', 'check'], io)).to.equal(0);
  });

  it('when --json is given, then the report is JSON with every finding', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'check', `${DIR}/errors`, '--clinics', `${DIR}/clinics.yaml`, '--json'], io)).to.equal(1);
    const report = JSON.parse(io.stdout.join('\n')) as { ok: boolean; errors: number; findings: Array<{ file: string; line: number; col: number }> };
    expect(report.ok).to.equal(false);
    expect(report.findings).to.have.length(report.errors);
  });

  it('when an option is unknown, then it prints the usage and exits 2', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'check', '--strcit'], io)).to.equal(2);
    expect(io.stderr[0]).to.equal('error: unknown option --strcit');
  });
});

describe('clinic-sms rules test', () => {
  it('when given a folder, then every YAML test file in it runs (the fixture copy of rules/tests all pass)', async () => {
    const io = captureIO({ RULES_DIR: FIXTURE_RULES_DIR });
    expect(await runCli(['rules', 'test', `${FIXTURE_RULES_DIR}/tests`], io)).to.equal(0);
    expect(io.stdout.join('\n')).to.match(/^rules test: all \d+ cases passed$/m);
    expect(io.stdout.join('\n')).to.include('keywords.test.yaml').and.to.include('senders.test.yaml');
  });
});
