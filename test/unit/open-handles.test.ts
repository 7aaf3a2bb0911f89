import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { openHandleReport } from '../support/open-handles.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
};

const timerCount = (lines: string[]): number => Number(/^(\d+) ref'd timer/.exec(lines.find((l) => l.includes("ref'd timer")) ?? '')?.[1] ?? 0);

describe('open handles at the end of the run (test/support/open-handles.ts)', () => {
  it('when a server is left listening, then the report names its port and how to close it, and drops it once closed', async () => {
    const server = createServer();
    const port = await listen(server);
    const line = openHandleReport().find((l) => l.includes(`port ${port}`));
    expect(line).to.match(/^listening server on port \d+: await server\.close\(\)/);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(openHandleReport().some((l) => l.includes(`port ${port}`))).to.equal(false);
  });

  it('when an interval is left running, then the ref\'d timers count it and an unref\'d one is not counted', () => {
    const before = timerCount(openHandleReport());
    const interval = setInterval(() => undefined, 60_000);
    try {
      expect(timerCount(openHandleReport())).to.equal(before + 1);
      interval.unref();
      expect(timerCount(openHandleReport())).to.equal(before);
    } finally {
      clearInterval(interval);
    }
  });

  it('when a child process is left running, then the report names its pid and says to kill it', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const line = openHandleReport().find((l) => l.startsWith(`child process pid ${child.pid}`));
      expect(line).to.contain("kill it and await its 'exit' event");
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    }
  });

  it('when a suite leaves a server and an interval open, then mocha fails the run within seconds and names both', async function () {
    this.timeout(30_000);
    const started = Date.now();
    const { code, output } = await runFixture('test/fixtures/open-handles/leaky-suite.ts');
    expect(code, output).to.equal(1);
    expect(Date.now() - started).to.be.below(20_000);
    expect(output).to.contain('"after all" hook: noOpenHandlesLeft');
    expect(output).to.match(/listening server on port \d+: await server\.close\(\)/);
    expect(output).to.contain("1 ref'd timer(s) or interval(s): clearTimeout/clearInterval them");
  });

  it('when a spec file closes its server in a top-level after(), then the run fails and names that hook, which runs after the check', async function () {
    this.timeout(30_000);
    const { code, output } = await runFixture('test/fixtures/open-handles/late-after-suite.ts');
    expect(code, output).to.equal(1);
    expect(output).to.match(/listening server on port \d+/);
    expect(output).to.contain('these root after hooks run only after this check');
    expect(output).to.contain('"after all" hook: closeTheLateServer');
  });
});

/** Runs one fixture suite in its own mocha process with the root hooks of the real run. */
async function runFixture(file: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ['node_modules/mocha/bin/mocha.js', '--no-config', '--import=tsx', '--require', 'test/support/bootstrap.ts', '--reporter', 'dot', file],
    { cwd: ROOT, env: { ...process.env, TEST_HANDLES_TRACE: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Without the guard's forced exit the child would hang: stop it here rather than at mocha's timeout.
  const hang = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(hang);
  return { code, output };
}
