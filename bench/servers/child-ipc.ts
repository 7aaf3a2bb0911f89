/**
 * The server side of the bench's IPC: a server child says when it listens, answers
 * memory samples (after a full GC when --expose-gc is on), runs extra commands, and
 * stops on request. Only for bench/servers/*.
 */
import type { Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

export interface ReadyMessage {
  type: 'ready';
  port: number;
  /** ms from process start to listening (process.uptime()). */
  startMs: number;
  /** What the server adds (e.g. how long startService took). */
  info?: Record<string, unknown>;
}

export type ParentMessage = { type: 'memory'; id: number; gc?: boolean } | { type: 'stop' } | { type: 'command'; id: number; name: string; args?: unknown };

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** heapUsed after a full GC (null when gc is not exposed or not asked for). */
  heapUsedAfterGc: number | null;
  /** CPU time the process used so far (user + system), microseconds. */
  cpuMicros: number;
  /** Full (mark-compact) collections since the server listened, forced ones included. */
  fullGcs: number;
}

export type CommandHandler = (name: string, args: unknown) => Promise<unknown>;

function send(message: unknown): void {
  process.send?.(message);
}

/**
 * Tells the parent the server listens and serves its requests until told to stop.
 * @param server - the listening server
 * @param stop - closes everything
 * @param onCommand - extra commands (reload timings, ...)
 */
export function serveParent(server: Server, stop: () => Promise<void>, onCommand?: CommandHandler, info?: Record<string, unknown>): void {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let fullGcs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        fullGcs += 1;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('message', (raw: ParentMessage) => {
    if (raw.type === 'memory') {
      const before = process.memoryUsage();
      let after: number | null = null;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (raw.gc === true && gc) {
        gc();
        after = process.memoryUsage().heapUsed;
      }
      const cpu = process.cpuUsage();
      const sample: MemorySample = {
        rss: before.rss,
        heapUsed: before.heapUsed,
        heapTotal: before.heapTotal,
        external: before.external,
        heapUsedAfterGc: after,
        cpuMicros: cpu.user + cpu.system,
        fullGcs,
      };
      send({ type: 'memory', id: raw.id, sample });
    } else if (raw.type === 'command') {
      const handler = raw.name.startsWith('cpu-profile-')
        ? cpuProfileCommand
        : (onCommand ?? (async (name: string) => Promise.reject(new Error(`unknown command ${name}`))));
      handler(raw.name, raw.args).then(
        (result) => send({ type: 'command', id: raw.id, result }),
        (err: unknown) => send({ type: 'command', id: raw.id, error: (err as Error).message }),
      );
    } else if (raw.type === 'stop') {
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port, startMs: Math.round(process.uptime() * 1000), ...(info ? { info } : {}) } satisfies ReadyMessage);
}

let session: Session | null = null;

/**
 * `cpu-profile-start` and `cpu-profile-stop` ({ file }): a CPU profile of just the
 * measured part (no start-up, no warm-up), written as a .cpuprofile.
 */
async function cpuProfileCommand(name: string, args: unknown): Promise<unknown> {
  if (name === 'cpu-profile-start') {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    return { started: true };
  }
  if (name === 'cpu-profile-stop' && session) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    session = null;
    const file = (args as { file: string }).file;
    await writeFile(file, JSON.stringify(profile));
    return { file };
  }
  throw new Error(`unknown command ${name}`);
}

/** Closes a server, ending idle keep-alive sockets. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
