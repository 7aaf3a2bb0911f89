import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import type { SpoolReplayer } from '../spool/replayer.js';
import type { Spool } from '../spool/spool.js';
import type { Store } from '../store/store.js';

/** Counts the requests in flight; shutdown waits until none is left. */
export interface InFlight {
  enter(): void;
  leave(): void;
  count(): number;
  /** Resolves true once nothing is in flight, false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean>;
}

export function createInFlight(): InFlight {
  let n = 0;
  const waiters = new Set<() => void>();
  return {
    enter() {
      n += 1;
    },
    leave() {
      n -= 1;
      if (n === 0) {
        waiters.forEach((w) => w());
      }
    },
    count: () => n,
    idle(timeoutMs) {
      if (n === 0) {
        return Promise.resolve(true);
      }
      return new Promise((resolve) => {
        const done = (result: boolean): void => {
          clearTimeout(timer);
          waiters.delete(onIdle);
          resolve(result);
        };
        const onIdle = (): void => done(true);
        const timer = setTimeout(() => done(n === 0), timeoutMs);
        waiters.add(onIdle);
      });
    },
  };
}

export interface ShutdownDeps {
  server: Server;
  inFlight: InFlight;
  /** How long requests in flight may take to finish (config.shutdownGraceMs). */
  graceMs: number;
  store: Store;
  logger: Logger;
  replayer?: SpoolReplayer;
  spool?: Spool;
  /** How long flushing the spool may take once the requests are done, ms. */
  flushMs?: number;
}

export interface ShutdownReport {
  /** True when every request in flight finished within the grace period. */
  drained: boolean;
  /** Requests cut off when the grace period ran out. */
  abandoned: number;
  drainMs: number;
  /** Spooled messages replayed during the flush. */
  flushed: number;
  /** Messages left in the spool (on disk; replayed after the next start). */
  spoolLeft: number;
  totalMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Graceful stop: stop accepting connections, let requests in flight finish (bounded by
 * graceMs), stop the spool replayer, flush the spool if the store answers, close the
 * store. Never throws for a slow request or a down store (those are reported); rejects
 * only if closing the store fails.
 * @param deps - the running pieces
 */
export async function gracefulShutdown(deps: ShutdownDeps): Promise<ShutdownReport> {
  const started = performance.now();
  const log = deps.logger.child({ component: 'shutdown' });
  let closed = false;
  const serverClosed = new Promise<void>((resolve) => {
    deps.server.close(() => {
      closed = true;
      resolve();
    });
  });
  log.info({ inFlight: deps.inFlight.count(), graceMs: deps.graceMs }, 'shutdown: no new connections; waiting for requests in flight');

  const drained = await deps.inFlight.idle(deps.graceMs);
  const abandoned = deps.inFlight.count();
  const drainMs = Math.round(performance.now() - started);
  if (!drained) {
    log.warn({ abandoned, graceMs: deps.graceMs }, 'shutdown: grace period over; closing the connections of unfinished requests');
    deps.server.closeAllConnections();
  }
  // Kept-alive connections become idle once their last response is out: close them as they do.
  const lingerUntil = performance.now() + 1000;
  while (!closed && performance.now() < lingerUntil) {
    deps.server.closeIdleConnections();
    await Promise.race([serverClosed, sleep(20)]);
  }
  if (!closed) {
    deps.server.closeAllConnections();
    await serverClosed;
  }

  let flushed = 0;
  if (deps.replayer) {
    await deps.replayer.stop();
    if (deps.spool && deps.spool.depth() > 0) {
      const report = await deps.replayer.replayNow({ deadline: performance.now() + (deps.flushMs ?? 5000) });
      flushed = report.replayed;
    }
  }
  const spoolLeft = deps.spool?.depth() ?? 0;
  if (spoolLeft > 0) {
    log.warn({ spoolLeft }, 'shutdown: messages stay in the spool for the next start');
  }
  await deps.store.close();
  const report: ShutdownReport = { drained, abandoned, drainMs, flushed, spoolLeft, totalMs: Math.round(performance.now() - started) };
  log.info(report, 'shutdown complete');
  return report;
}
