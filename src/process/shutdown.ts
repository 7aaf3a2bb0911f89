import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import type { SpoolReplayer } from '../spool/replayer.js';
import type { Spool } from '../spool/spool.js';

/** Counts the requests in flight; shutdown waits until none is left. */
export interface InFlight {
  enter(): void;
  leave(): void;
  count(): number;
  /** True while a request is in flight or one started within the last `ms`: the instance is serving traffic. */
  activeWithin(ms: number): boolean;
  /** Resolves true once nothing is in flight, false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean>;
}

export function createInFlight(): InFlight {
  let n = 0;
  let lastEnter = -Infinity;
  const waiters = new Set<() => void>();
  return {
    enter() {
      n += 1;
      lastEnter = performance.now();
    },
    leave() {
      n -= 1;
      if (n === 0) {
        waiters.forEach((w) => w());
      }
    },
    count: () => n,
    activeWithin: (ms) => n > 0 || performance.now() - lastEnter < ms,
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

/** Knows the server's connections, so shutdown can let each finish its request and close. */
export interface ConnectionTracker {
  /**
   * From now on every response closes its connection when done, those in progress
   * included, and connections idle after a kept-alive response are closed now.
   */
  closeConnectionsAfterResponse(): void;
}

interface ConnectionState {
  served: number;
  active: boolean;
}

/**
 * Node's server.close() only stops new connections: a kept-alive connection may still
 * bring new requests, and server.closeIdleConnections() also closes connections that
 * were accepted but whose request has not arrived yet (an accepted request lost). So
 * shutdown marks every response `Connection: close` and closes at once only connections
 * idle after a response; the others close themselves once their request is answered.
 * @param server - the listening server (attach before requests arrive)
 */
export function trackConnections(server: Server): ConnectionTracker {
  const sockets = new Map<Socket, ConnectionState>();
  const open = new Set<ServerResponse>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { served: 0, active: false });
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = sockets.get(req.socket);
    if (state) {
      state.active = true;
    }
    if (closing) {
      res.setHeader('Connection', 'close');
    } else {
      open.add(res);
    }
    res.once('close', () => {
      open.delete(res);
      if (state) {
        state.active = false;
        state.served += 1;
      }
    });
  });
  return {
    closeConnectionsAfterResponse() {
      closing = true;
      for (const res of open) {
        if (!res.headersSent) {
          res.setHeader('Connection', 'close');
        }
      }
      for (const [socket, state] of sockets) {
        if (!state.active && state.served > 0) {
          socket.destroy();
        }
      }
    },
  };
}

export interface DrainDeps {
  server: Server;
  /** The server's connections (optional: without it, connections are closed as they go idle). */
  connections?: ConnectionTracker;
  inFlight: InFlight;
  /** How long requests in flight may take to finish (config.shutdownGraceMs). */
  graceMs: number;
  logger: Logger;
}

export interface ShutdownReport {
  /** True when every accepted connection finished (its request answered) within the grace period. */
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
 * The HTTP server's stop: stop accepting connections, let requests in flight finish
 * (bounded by graceMs), then close what is left. Never throws for a slow request.
 * @param deps - the server, its connections, the requests in flight
 */
export async function drainServer(deps: DrainDeps): Promise<Pick<ShutdownReport, 'drained' | 'abandoned' | 'drainMs'>> {
  const started = performance.now();
  const log = deps.logger.child({ component: 'shutdown' });
  let closed = false;
  deps.connections?.closeConnectionsAfterResponse();
  const serverClosed = new Promise<void>((resolve) => {
    deps.server.close(() => {
      closed = true;
      resolve();
    });
  });
  log.info({ inFlight: deps.inFlight.count(), graceMs: deps.graceMs }, 'shutdown: no new connections; waiting for requests in flight');

  const graceEnds = performance.now() + deps.graceMs;
  if (deps.connections) {
    // Every connection closes itself once its request is answered.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([serverClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, deps.graceMs)))]);
    clearTimeout(timer);
  } else {
    await deps.inFlight.idle(deps.graceMs);
    while (!closed && performance.now() < graceEnds) {
      deps.server.closeIdleConnections();
      await Promise.race([serverClosed, sleep(20)]);
    }
  }
  const abandoned = deps.inFlight.count();
  const drained = closed;
  const drainMs = Math.round(performance.now() - started);
  if (!closed) {
    if (abandoned > 0) {
      log.warn({ abandoned, graceMs: deps.graceMs }, 'shutdown: grace period over; closing the connections of unfinished requests');
    }
    deps.server.closeAllConnections();
    await serverClosed;
  }
  return { drained, abandoned, drainMs };
}

/**
 * The spool replayer's stop: the loop stops, then one last pass replays what the requests
 * of the drain spooled, if the store answers (bounded by flushMs); the rest stays on disk.
 * @param deps - the replayer and its spool
 */
export async function flushSpool(deps: { replayer: SpoolReplayer; spool: Spool; logger: Logger; flushMs?: number }): Promise<Pick<ShutdownReport, 'flushed' | 'spoolLeft'>> {
  let flushed = 0;
  await deps.replayer.stop();
  if (deps.spool.depth() > 0) {
    const report = await deps.replayer.replayNow({ deadline: performance.now() + (deps.flushMs ?? 5000) });
    flushed = report.replayed;
  }
  const spoolLeft = deps.spool.depth();
  if (spoolLeft > 0) {
    deps.logger.child({ component: 'shutdown' }).warn({ spoolLeft }, 'shutdown: messages stay in the spool for the next start');
  }
  return { flushed, spoolLeft };
}
