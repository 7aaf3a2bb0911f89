/**
 * Builds what the bench runs and starts each server in a child process of its own, so
 * the load generator and the server never share an event loop. Everything runs compiled
 * under plain node: the service from `npm run build` (dist/), the other servers from
 * `tsc -p tsconfig.bench.json` (var/bench-build).
 */
import { execFile, fork } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { ChildStats } from '../servers/child.js';

export type ServerKind = 'bare-koa' | 'minimal-handler' | 'express-quickstart' | 'full-service' | 'fake-media';

export interface ServerChild {
  kind: ServerKind;
  port: number;
  pid: number;
  /** ms from fork() to listening, Node's own start included. */
  startMs: number;
  stats(gc?: boolean): Promise<ChildStats>;
  stop(): Promise<void>;
}

/**
 * Compiles the service (npm run build: dist/) and the bench servers (var/bench-build).
 * @returns how long it took, ms
 */
export async function buildAll(root: string): Promise<number> {
  const t0 = performance.now();
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.bench.json']) {
    await promisify(execFile)(tsc, ['-p', project], { cwd: root }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc -p ${project} failed:\n${err.stdout ?? String(err)}`);
    });
  }
  return performance.now() - t0;
}

let serverLogs = 0;
function serverLog(kind: ServerKind): 'ignore' | number {
  const dir = process.env.BENCH_SERVER_LOGS;
  if (!dir) {
    return 'ignore';
  }
  mkdirSync(dir, { recursive: true });
  serverLogs += 1;
  return openSync(join(dir, `${kind}-${serverLogs}.log`), 'w');
}

/**
 * Starts a compiled server and waits until it listens.
 * @param env - its whole environment (nothing inherited by accident, e.g. no MONGODB_URI)
 */
export async function startServer(root: string, kind: ServerKind, env: Record<string, string>): Promise<ServerChild> {
  const t0 = performance.now();
  const child = fork(join(root, 'var', 'bench-build', 'bench', 'servers', `${kind}.js`), [], {
    cwd: root,
    // BENCH_CPU_PROF=<dir>: each server child writes a V8 CPU profile there on exit.
    execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', SERVICE_MAIN: join(root, 'dist', 'src', 'main.js'), ...env },
    // BENCH_SERVER_LOGS=<dir>: each server child's stdout (the service's log lines) goes to a file there.
    stdio: ['ignore', serverLog(kind), 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before listening`)));
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'ready') {
        resolve(m.port ?? 0);
      }
    });
  });
  const startMs = performance.now() - t0;
  let nextId = 0;
  return {
    kind,
    port,
    pid: child.pid ?? 0,
    startMs,
    stats: (gc = false) =>
      new Promise((resolve) => {
        const id = ++nextId;
        const onMessage = (m: { type: string; id?: number; stats?: ChildStats }): void => {
          if (m.type === 'stats' && m.id === id) {
            child.off('message', onMessage);
            resolve(m.stats as ChildStats);
          }
        };
        child.on('message', onMessage);
        child.send({ type: 'stats', id, gc });
      }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.send({ type: 'stop' });
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
