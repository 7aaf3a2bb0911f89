/**
 * Runs a server under test in a child process of its own, so the load generator and the
 * server never share an event loop. The child speaks bench/servers/child-ipc.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { MemorySample, ReadyMessage } from '../servers/child-ipc.js';

export type ServerKind = 'bare-koa' | 'minimal-handler' | 'full-service';

/**
 * How every server child of a run is started, the same way for all of them so the ratios
 * stay fair: `compiled` runs the JavaScript that bench/lib/build.ts emitted (outDir holds
 * bench/servers/*.js and src/**) under plain node, as `npm run start:prod` does; `tsx`
 * runs the .ts sources through tsx (`npm run bench -- --tsx`).
 */
export type ServerRuntime = { kind: 'compiled'; outDir: string } | { kind: 'tsx' };

/** How the results and the docs name a runtime. */
export function runtimeLabel(runtime: ServerRuntime): string {
  return runtime.kind === 'compiled' ? 'compiled (tsc) under node' : 'tsx';
}

export interface ServerChild {
  kind: ServerKind;
  pid: number;
  port: number;
  /** ms from fork() to the ready message (Node start included, and tsx's under --tsx). */
  spawnToReadyMs: number;
  ready: ReadyMessage;
  memory(gc?: boolean): Promise<MemorySample>;
  command<T>(name: string, args?: unknown): Promise<T>;
  /** Asks the child to stop and waits for it to exit (kills it after a grace period). */
  stop(): Promise<void>;
}

export interface StartChildOptions {
  runtime: ServerRuntime;
  env: Record<string, string | undefined>;
  /** Extra node flags (e.g. --cpu-prof). --expose-gc is always on. */
  nodeFlags?: string[];
  /** Where the child's stdout/stderr go (its logs); default: discarded. */
  logFile?: string;
  timeoutMs?: number;
}

/** The script a child runs and the node flags it needs for it. */
function entryFor(kind: ServerKind, runtime: ServerRuntime): { script: string; execArgv: string[] } {
  if (runtime.kind === 'compiled') {
    return { script: join(runtime.outDir, 'bench', 'servers', `${kind}.js`), execArgv: [] };
  }
  return { script: fileURLToPath(new URL(`../servers/${kind}.ts`, import.meta.url)), execArgv: ['--import', 'tsx'] };
}

/**
 * Starts a server child and waits until it listens.
 * @param kind - which server
 * @param options - how it runs, its environment, node flags, log file
 */
export async function startServerChild(kind: ServerKind, options: StartChildOptions): Promise<ServerChild> {
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const entry = entryFor(kind, options.runtime);
  const t0 = performance.now();
  const child: ChildProcess = fork(entry.script, [], {
    execArgv: [...entry.execArgv, '--expose-gc', ...(options.nodeFlags ?? [])],
    env: { HOST: '127.0.0.1', PORT: '0', ...options.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', out, out, 'ipc'],
  });
  if (typeof out === 'number') {
    closeSync(out);
  }
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (m: { type: string; id?: number; sample?: MemorySample; result?: unknown; error?: string }) => {
    if (m.id === undefined) {
      return;
    }
    const waiter = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined) {
      waiter?.reject(new Error(m.error));
    } else {
      waiter?.resolve(m.type === 'memory' ? m.sample : m.result);
    }
  });
  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${kind} did not start within ${options.timeoutMs ?? 60_000} ms`));
    }, options.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited with ${code} before listening${options.logFile ? ` (see ${options.logFile})` : ''}`));
    });
    child.on('message', (m: { type: string }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m as ReadyMessage);
      }
    });
  });
  const spawnToReadyMs = performance.now() - t0;
  const ask = <T>(message: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...message, id });
    });
  return {
    kind,
    pid: child.pid as number,
    port: ready.port,
    spawnToReadyMs,
    ready,
    memory: (gc = false) => ask<MemorySample>({ type: 'memory', gc }),
    command: <T>(name: string, args?: unknown) => ask<T>({ type: 'command', name, args }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
