import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { runCli } from '../../../src/cli/index.js';
import type { CliIO } from '../../../src/cli/io.js';

function captureIO(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env: {}, cwd: process.cwd(), stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/** Every command and subcommand of the bin. */
const COMMANDS = [['serve'], ['rules'], ['rules', 'check'], ['rules', 'test'], ['rules', 'simulate'], ['import'], ['spool'], ['spool', 'status'], ['spool', 'replay'], ['export'], ['events'], ['events', 'list'], ['events', 'replay'], ['events', 'send-test'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke']];

describe('clinic-sms --help', () => {
  for (const command of COMMANDS) {
    it(`when "clinic-sms ${command.join(' ')} --help" runs, then it prints its usage to stdout, does nothing else and exits 0`, async () => {
      const io = captureIO();
      expect(await runCli([...command, '--help'], io)).to.equal(0);
      expect(io.stdout[0]).to.match(new RegExp(`^usage: clinic-sms ${command[0]}`));
      expect(io.stderr).to.deep.equal([]);
    });
  }

  it('when "rules check --help" runs, then the usage names the options of check and not those of simulate', async () => {
    const io = captureIO();
    await runCli(['rules', 'check', '--help'], io);
    expect(io.stdout.join('\n')).to.include('--strict').and.not.include('--clinic ID');
  });

  it('when the bin is given --help or no command, then it lists every command and exits 0', async () => {
    for (const args of [['--help'], ['-h'], []]) {
      const io = captureIO();
      expect(await runCli(args, io)).to.equal(0);
      expect(io.stdout.join('\n')).to.include('serve').and.include('rules').and.include('import').and.include('spool').and.include('export').and.include('keys');
    }
  });

  it('when the command is unknown, then it names it, prints the usage to stderr and exits 2', async () => {
    const io = captureIO();
    expect(await runCli(['rulez', 'check'], io)).to.equal(2);
    expect(io.stderr[0]).to.equal('error: unknown command "rulez"');
    expect(io.stderr[1]).to.match(/^usage: clinic-sms <command>/);
    expect(io.stdout).to.deep.equal([]);
  });

  it('when a rules subcommand is unknown, then it prints the rules usage and exits 2', async () => {
    const io = captureIO();
    expect(await runCli(['rules', 'lint'], io)).to.equal(2);
    expect(io.stderr[0]).to.equal('error: unknown subcommand "rules lint"');
    expect(io.stderr[1]).to.match(/^usage: clinic-sms rules/);
  });

  it('when the real bin runs with --help and with an unknown command, then its exit statuses are 0 and 2', function () {
    this.timeout(30_000);
    const help = spawnSync(process.execPath, ['bin/clinic-sms.js', 'rules', 'simulate', '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.match(/^usage: clinic-sms rules/);
    const unknown = spawnSync(process.execPath, ['bin/clinic-sms.js', 'nope'], { encoding: 'utf8' });
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.include('usage: clinic-sms <command>');
  });
});
