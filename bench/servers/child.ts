/**
 * The server side of the bench's IPC, for bench/servers/*: says on which port the server
 * listens, answers `stats` (memory and CPU, after a full GC when asked and --expose-gc is
 * on), and stops on `stop` or when the bench goes away.
 */
import type { Server } from 'node:http';

export interface ChildStats {
  rss: number;
  heapUsed: number;
  /** heapUsed after a forced full GC (null when not asked). */
  heapAfterGc: number | null;
  /** CPU time used so far (user + system), microseconds. */
  cpuMicros: number;
  /** What the server counts of its own (the fake media server: files served). */
  counts?: Record<string, number>;
}

export type ParentMessage = { type: 'stats'; id: number; gc?: boolean } | { type: 'stop' };

export function serveParent(server: Server, stop: () => Promise<unknown>, counts?: () => Record<string, number>): void {
  const address = server.address();
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'stats') {
      const gc = (globalThis as { gc?: () => void }).gc;
      const { rss, heapUsed } = process.memoryUsage();
      let heapAfterGc: number | null = null;
      if (m.gc === true && gc) {
        gc();
        heapAfterGc = process.memoryUsage().heapUsed;
      }
      const cpu = process.cpuUsage();
      process.send?.({ type: 'stats', id: m.id, stats: { rss, heapUsed, heapAfterGc, cpuMicros: cpu.user + cpu.system, ...(counts ? { counts: counts() } : {}) } satisfies ChildStats });
    } else if (m.type === 'stop') {
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
}

/** Closes a server, ending idle keep-alive sockets. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** HOST and PORT from the environment (the bench passes 127.0.0.1 and 0). */
export const listenOn = (): [number, string] => [Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1'];
