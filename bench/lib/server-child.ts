/**
 * Runs a server under test in a child process of its own, so the load generator and the
 * server never share an event loop. The child speaks bench/servers/child-ipc.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { MemorySample, ReadyMessage } from '../servers/child-ipc.js';

export type ServerKind = 'bare-koa' | 'minimal-handler' | 'full-service';

export interface ServerChild {
  kind: ServerKind;
  pid: number;
  port: number;
  /** ms from fork() to the ready message (Node + tsx start included). */
  spawnToReadyMs: number;
  ready: ReadyMessage;
  memory(gc?: boolean): Promise<MemorySample>;
  command<T>(name: string, args?: unknown): Promise<T>;
  /** Asks the child to stop and waits for it to exit (kills it after a grace period). */
  stop(): Promise<void>;
}

export interface StartChildOptions {
  env: Record<string, string | undefined>;
  /** Extra node flags (e.g. --cpu-prof). --expose-gc is always on. */
  nodeFlags?: string[];
  /** Where the child's stdout/stderr go (its logs); default: discarded. */
  logFile?: string;
  timeoutMs?: number;
}

const SCRIPTS: Record<ServerKind, string> = {
  'bare-koa': fileURLToPath(new URL('../servers/bare-koa.ts', import.meta.url)),
  'minimal-handler': fileURLToPath(new URL('../servers/minimal-handler.ts', import.meta.url)),
  'full-service': fileURLToPath(new URL('../servers/full-service.ts', import.meta.url)),
};

/**
 * Starts a server child and waits until it listens.
 * @param kind - which server
 * @param options - its environment, node flags, log file
 */
export async function startServerChild(kind: ServerKind, options: StartChildOptions): Promise<ServerChild> {
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const t0 = performance.now();
  const child: ChildProcess = fork(SCRIPTS[kind], [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(options.nodeFlags ?? [])],
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
