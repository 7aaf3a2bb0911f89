import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';

const TOOL = 'tools/ferretdb';

/** Runs a copy of start.sh from `dir` with no Go on PATH, so any build attempt fails and says where it would build. */
function start(dir: string, binDir: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('bash', [path.join(dir, 'start.sh')], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), FERRETDB_BIN_DIR: binDir, FERRETDB_PORT: '0', FERRETDB_TIMEOUT: '10' },
  });
}

function wouldBuild(stderr: string): string | null {
  return /needed to build (\S+)\)/.exec(stderr)?.[1] ?? null;
}

describe('tools/ferretdb/start.sh: the launcher cache', () => {
  let work: string;
  let server: Server | null = null;

  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-ferretdb-cache-'));
    await fs.cp(TOOL, path.join(work, 'a'), { recursive: true });
    await fs.cp(TOOL, path.join(work, 'b'), { recursive: true });
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
    await fs.rm(work, { recursive: true, force: true });
  });

  it('when the sources are the same, then the binary path is the same (a sha256 prefix); when one source changes, then it is another path', async () => {
    const bin = path.join(work, 'bin');
    const a = wouldBuild(start(path.join(work, 'a'), bin).stderr);
    expect(a).to.match(/\/ferretdb-launcher-[0-9a-f]{16}$/);
    expect(wouldBuild(start(path.join(work, 'b'), bin).stderr)).to.equal(a);
    await fs.appendFile(path.join(work, 'b', 'main.go'), '\n// changed\n');
    const b = wouldBuild(start(path.join(work, 'b'), bin).stderr);
    expect(b).to.match(/\/ferretdb-launcher-[0-9a-f]{16}$/).and.not.equal(a);
  });

  it('when a binary for these sources is cached, then it is used even if the sources are newer than it (no timestamps)', async function () {
    this.timeout(20_000);
    const bin = path.join(work, 'bin');
    const target = wouldBuild(start(path.join(work, 'a'), bin).stderr) as string;
    server = createServer();
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // A stand-in launcher: announces the test's listening port, then waits to be stopped.
    await fs.mkdir(bin, { recursive: true });
    await fs.writeFile(target, `#!/bin/sh\necho "ready mongodb://127.0.0.1:${port}/"\nexec sleep 30\n`, { mode: 0o755 });
    const later = new Date(Date.now() + 60_000);
    await fs.utimes(path.join(work, 'a', 'main.go'), later, later);
    const run = start(path.join(work, 'a'), bin);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stderr).to.not.include('building');
    expect(run.stdout).to.include(`export MONGODB_URI=mongodb://127.0.0.1:${port}/`).and.include(`export FERRETDB_BIN=${target}`);
    const pid = Number(/FERRETDB_PID=(\d+)/.exec(run.stdout)?.[1]);
    process.kill(pid, 'SIGTERM');
    await fs.rm(/FERRETDB_RUN_DIR=(\S+)/.exec(run.stdout)?.[1] ?? '', { recursive: true, force: true });
  });
});

describe('tools/ferretdb/start.sh: the backend', () => {
  let work: string;
  let server: Server | null = null;
  let port: number;

  beforeEach(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-ferretdb-backend-'));
    await fs.cp(TOOL, path.join(work, 'tool'), { recursive: true });
    server = createServer();
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
    await fs.rm(work, { recursive: true, force: true });
  });

  /** Puts a stand-in launcher where start.sh looks for the binary: it writes its arguments to a file and announces the test's port. */
  async function standIn(): Promise<{ bin: string; argsFile: string }> {
    const bin = path.join(work, 'bin');
    const target = wouldBuild(start(path.join(work, 'tool'), bin).stderr) as string;
    const argsFile = path.join(work, 'args');
    await fs.mkdir(bin, { recursive: true });
    await fs.writeFile(target, `#!/bin/sh\necho "$@" > ${argsFile}\necho "ready mongodb://127.0.0.1:${port}/"\nexec sleep 30\n`, { mode: 0o755 });
    return { bin, argsFile };
  }

  function run(bin: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('bash', [path.join(work, 'tool', 'start.sh')], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), FERRETDB_BIN_DIR: bin, FERRETDB_PORT: '0', FERRETDB_TIMEOUT: '10', ...env },
    });
    const pid = Number(/FERRETDB_PID=(\d+)/.exec(r.stdout)?.[1]);
    if (pid > 0) {
      process.kill(pid, 'SIGTERM');
    }
    const runDir = /FERRETDB_RUN_DIR=(\S+)/.exec(r.stdout)?.[1];
    if (runDir) {
      spawnSync('rm', ['-rf', runDir]);
    }
    return r;
  }

  it('when PostgreSQL is found, then the launcher gets the postgresql backend, its folder and no serializing proxy', async () => {
    const { bin, argsFile } = await standIn();
    const pg = path.join(work, 'pg-bin');
    await fs.mkdir(pg);
    await fs.writeFile(path.join(pg, 'initdb'), '#!/bin/sh\n', { mode: 0o755 });
    await fs.writeFile(path.join(pg, 'postgres'), '#!/bin/sh\n', { mode: 0o755 });
    const r = run(bin, { FERRETDB_PG_BIN_DIR: pg });
    expect(r.status, r.stderr).to.equal(0);
    const args = await fs.readFile(argsFile, 'utf8');
    expect(args).to.include('-backend postgresql').and.include('-serialize=false').and.include(`-pg-bin-dir ${pg}`);
    expect(r.stdout).to.include('export FERRETDB_BACKEND=postgresql');
    expect(r.stderr).to.not.include('WARNING');
  });

  it('when PostgreSQL cannot be found, then it falls back to SQLite one command at a time and says so on stderr, stdout staying export lines', async () => {
    const { bin, argsFile } = await standIn();
    const r = run(bin, { FERRETDB_PG_BIN_DIR: path.join(work, 'nowhere') });
    expect(r.status, r.stderr).to.equal(0);
    expect(await fs.readFile(argsFile, 'utf8')).to.include('-backend sqlite').and.include('-serialize=true');
    expect(r.stderr).to.match(/WARNING: falling back to FerretDB's SQLite backend, ONE COMMAND AT A TIME/);
    expect(r.stdout.trim().split('\n').every((line) => line.startsWith('export '))).to.equal(true);
    expect(r.stdout).to.include('export FERRETDB_BACKEND=sqlite');
  });

  it('when FERRETDB_BACKEND=postgresql and PostgreSQL cannot be found, then it fails saying what to install', async () => {
    const { bin } = await standIn();
    const r = run(bin, { FERRETDB_PG_BIN_DIR: path.join(work, 'nowhere'), FERRETDB_BACKEND: 'postgresql' });
    expect(r.status).to.not.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include("install Debian's postgresql package");
  });
});
