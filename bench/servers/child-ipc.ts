/**
 * The server side of the bench's IPC: a server child says when it listens, answers
 * memory samples (after a full GC when --expose-gc is on), runs extra commands, and
 * stops on request. Only for bench/servers/*.
 */
import type { Server } from 'node:http';

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
  process.on('message', (raw: ParentMessage) => {
    if (raw.type === 'memory') {
      const before = process.memoryUsage();
      let after: number | null = null;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (raw.gc === true && gc) {
        gc();
        after = process.memoryUsage().heapUsed;
      }
      const sample: MemorySample = { rss: before.rss, heapUsed: before.heapUsed, heapTotal: before.heapTotal, external: before.external, heapUsedAfterGc: after };
      send({ type: 'memory', id: raw.id, sample });
    } else if (raw.type === 'command') {
      const handler = onCommand ?? (async (name: string) => Promise.reject(new Error(`unknown command ${name}`)));
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

/** Closes a server, ending idle keep-alive sockets. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
