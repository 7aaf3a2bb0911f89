import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';
import { fixtureServiceEnv } from '../support/service-env.js';

// The processes an operator runs (docs/operations.md): the compiled service,
// started with no npm or shell in between, so the signals a supervisor sends reach it.
// The build is made once here with `npm run build`, as docs/operations.md says.

type LogLine = Record<string, unknown> & { msg?: string };

interface Running {
  child: ChildProcessWithoutNullStreams;
  lines: LogLine[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first JSON log line that matches (already logged or to come). */
  waitForLog(match: (line: LogLine) => boolean, ms?: number): Promise<LogLine>;
}

function run(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let partial = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts.filter((p) => p.trim() !== '')) {
      lines.push(JSON.parse(part) as LogLine);
    }
    listeners.forEach((l) => l());
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitForLog(match, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(match);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line in ${ms} ms; stderr: ${err}; stdout: ${lines.map((l) => l.msg).join(' | ')}`));
        }, ms);
        const onExit = (): void => {
          cleanup();
          reject(new Error(`the process exited (${String(child.exitCode)}) first; stderr: ${err}`));
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

const byMsg =
  (msg: string) =>
  (line: LogLine): boolean =>
    line.msg === msg;

/** The port from the start line ("address":"127.0.0.1:PORT"). */
const portOf = (line: LogLine): number => Number(String(line.address).split(':').pop());

describe('the production process (compiled, no npm wrapper): signals', function () {
  this.timeout(60_000);
  let dir: string;
  let rulesDir: string;
  let spoolDir: string;
  let started: Running[] = [];

  // The files are not watched (fixtureServiceEnv), so only SIGHUP can make the reload this test looks for.
  const env = (): Record<string, string> => fixtureServiceEnv({ RULES_DIR: rulesDir, LOG_LEVEL: 'info', SPOOL_DIR: spoolDir });

  const start = (args: string[]): Running => {
    const r = run(args, env());
    started.push(r);
    return r;
  };

  before(async function () {
    this.timeout(240_000);
    const build = spawn('npm', ['run', 'build'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    build.stdout.on('data', (c: Buffer) => (out += c.toString()));
    build.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => build.once('exit', resolve));
    expect(code, `npm run build failed:\n${out}`).to.equal(0);
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-process-'));
    rulesDir = path.join(dir, 'rules');
    spoolDir = path.join(dir, 'spool');
    await fs.cp(FIXTURE_RULES_DIR, rulesDir, { recursive: true });
    started = [];
  });

  afterEach(async () => {
    for (const r of started) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when `node dist/src/main.js` starts, then the start line names its PID; SIGHUP reloads the changed rules; SIGINT drains and exits 0', async () => {
    const service = start(['dist/src/main.js']);
    const listening = await service.waitForLog(byMsg('listening'));
    expect(listening.pid).to.equal(service.child.pid);

    // An admin adds a keyword variant to the downtown clinic's rules, then sends SIGHUP.
    const file = path.join(rulesDir, 'clinics/downtown.yaml');
    const before = await fs.readFile(file, 'utf8');
    expect(before).to.include('es: [HORARIO, HORAS]');
    await fs.writeFile(file, before.replace('es: [HORARIO, HORAS]', 'es: [HORARIO, HORAS, HORA]'));
    service.child.kill('SIGHUP');
    await service.waitForLog(byMsg('SIGHUP: reloading rules and clinics, keys file and staff file'));
    const reloaded = await service.waitForLog(byMsg('rules reloaded'));
    expect(reloaded.changed).to.deep.equal(['downtown']);
    // Still serving after the reload.
    const reply = await post(portOf(listening), inboundParams({ From: uniquePhone(), Body: 'hello' }));
    expect(reply.status).to.equal(200);

    service.child.kill('SIGINT');
    expect(await service.exited, service.stderr()).to.equal(0);
    expect(service.lines.find(byMsg('shutting down'))).to.include({ signal: 'SIGINT' });
    expect(service.lines.find(byMsg('shutdown complete'))).to.include({ drained: true, abandoned: 0 });
  });

  it('when SIGTERM arrives while a request is in flight, then that request is answered, the drain completes and the process exits 0', async () => {
    const service = start(['dist/src/main.js']);
    const port = portOf(await service.waitForLog(byMsg('listening')));
    const params = inboundParams({ From: uniquePhone(), Body: 'is the clinic open on Saturday?' });
    const { body, signature } = signedRequest(params);
    const halfway = Math.floor(body.length / 2);

    // `Expect: 100-continue`: the server answers "continue" once it has the request's
    // headers, so the request is known to be in flight before the signal is sent.
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: WEBHOOK_PATH,
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'x-twilio-signature': signature, expect: '100-continue' },
    });
    const response = new Promise<{ status: number | undefined; connection: string | undefined; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, text }));
      });
      req.on('error', reject);
    });
    await new Promise<void>((resolve) => req.once('continue', resolve));
    req.write(body.slice(0, halfway));

    service.child.kill('SIGTERM');
    const draining = await service.waitForLog(byMsg('shutdown: no new connections; waiting for requests in flight'));
    expect(draining.inFlight).to.equal(1);
    req.end(body.slice(halfway));

    const answer = await response;
    expect(answer.status).to.equal(200);
    expect(answer.text).to.include('<Message>');
    expect(answer.connection).to.equal('close');
    expect(await service.exited, service.stderr()).to.equal(0);
    expect(service.lines.find(byMsg('shutting down'))).to.include({ signal: 'SIGTERM' });
    expect(service.lines.find(byMsg('shutdown complete'))).to.include({ drained: true, abandoned: 0 });
    expect(service.lines.find((l) => l.msg === 'request' && l.status === 200)).to.not.equal(undefined);
  });

  it('when `clinic-sms serve` runs from the compiled bin, then the image health check passes; on SIGTERM it drains, exits 0 and the health check fails', async () => {
    const service = start(['bin/clinic-sms.js', 'serve']);
    const listening = await service.waitForLog(byMsg('listening'));
    // No shell or npm in between: the PID the supervisor holds is the service's own.
    expect(listening.pid).to.equal(service.child.pid);
    const reply = await post(portOf(listening), inboundParams({ From: uniquePhone(), Body: 'hello' }));
    expect(reply.status).to.equal(200);
    // The image's HEALTHCHECK command, run as Docker runs it.
    expect(await healthcheck(portOf(listening))).to.equal(0);

    service.child.kill('SIGTERM');
    expect(await service.exited, service.stderr()).to.equal(0);
    expect(service.lines.find(byMsg('shutdown complete'))).to.include({ drained: true, abandoned: 0 });
    expect(await healthcheck(portOf(listening))).to.equal(1);
  });
});

/** Runs the Dockerfile's HEALTHCHECK command (exec form) against a port; resolves its exit code. */
async function healthcheck(port: number): Promise<number | null> {
  const dockerfile = await fs.readFile('Dockerfile', 'utf8');
  const exec = /^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  const [program, ...args] = JSON.parse(exec ?? 'null') as string[];
  expect(program).to.equal('node');
  const child = spawn(process.execPath, args, { env: { PORT: String(port) }, stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', resolve));
}

/** One signed webhook POST. */
function post(port: number, params: Record<string, string>): Promise<{ status: number | undefined; text: string }> {
  const { body, signature } = signedRequest(params);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: WEBHOOK_PATH, method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
