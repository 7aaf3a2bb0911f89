/**
 * Fixed-rate (open-loop) load on loopback, without coordinated omission.
 *
 * autocannon's `overallRate` gives each connection a per-second quota that it sends as
 * fast as it can before pausing until the next 1-second tick, so "half of the maximum"
 * there is saturation for half of every second. Here requests are scheduled at uniform
 * intervals (1/rate) from a start time; each one goes to an idle keep-alive connection,
 * or, when all are busy, waits for the first one that frees up. Its latency runs from its
 * *scheduled* send time to its complete response, so a stall shows up as latency, not as
 * fewer requests.
 *
 * Raw sockets write each request's bytes at once and read the answer with a minimal parser
 * (status line, Content-Length, body length): one request in flight per connection, no
 * pipelining, and the servers here always answer with Content-Length.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { WEBHOOK_PATH, type SignedRequest } from './request-mix.js';
import { round } from './stats.js';

export interface PacedOptions {
  connections: number;
  durationS: number;
  /** Requests per second over all connections. */
  rate: number;
  /** A request not answered within this long counts as a timeout (its socket is replaced). */
  timeoutS?: number;
}

export interface PacedResult {
  rps: number;
  /** Complete responses (any status). */
  requests: number;
  durationS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Socket errors, connection failures, malformed responses. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Requests scheduled (rate x duration); requests + errors + timeouts once all are settled. */
  scheduled: number;
}

export interface ParsedResponse {
  status: number;
  /** The server said `Connection: close`. */
  close: boolean;
}

/** What the reader made of the bytes so far. */
export type ReadOutcome = { kind: 'more' } | { kind: 'done'; response: ParsedResponse } | { kind: 'malformed'; reason: string };

const HEADER_END = Buffer.from('\r\n\r\n');
const MORE: ReadOutcome = { kind: 'more' };

/**
 * Reads one HTTP/1.1 response at a time from a socket's chunks. Needs Content-Length
 * (or a status without a body); bytes past the end of a response are malformed, since
 * only one request is ever in flight on a connection.
 */
export class ResponseReader {
  private pending: Buffer | null = null;
  /** Header + body length, once the header is in. */
  private total = -1;
  private status = 0;
  private close = false;

  /**
   * Feeds the next chunk.
   * @param chunk - bytes from the socket
   */
  push(chunk: Buffer): ReadOutcome {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.total < 0) {
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        this.pending = buf;
        return MORE;
      }
      const head = buf.toString('latin1', 0, end);
      const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (!statusMatch) {
        return this.fail('no status line');
      }
      this.status = Number(statusMatch[1]);
      this.close = /\r\nconnection:[ \t]*close/i.test(head);
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      const bodyless = this.status === 204 || this.status === 304 || this.status < 200;
      if (!length && !bodyless) {
        return this.fail('no content-length');
      }
      this.total = end + HEADER_END.length + (length ? Number(length[1]) : 0);
    }
    if (buf.length < this.total) {
      this.pending = buf;
      return MORE;
    }
    if (buf.length > this.total) {
      return this.fail('bytes after the response');
    }
    const response: ParsedResponse = { status: this.status, close: this.close };
    this.reset();
    return { kind: 'done', response };
  }

  /** Forgets a partial response (its socket is gone). */
  reset(): void {
    this.pending = null;
    this.total = -1;
    this.status = 0;
    this.close = false;
  }

  private fail(reason: string): ReadOutcome {
    this.reset();
    return { kind: 'malformed', reason };
  }
}

/**
 * The bytes of one webhook request, as Twilio would send them.
 * @param host - the Host header, e.g. 127.0.0.1:3000
 * @param req - a signed request of the mix
 */
export function requestBytes(host: string, req: SignedRequest): string {
  return (
    `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    `X-Twilio-Signature: ${req.signature}\r\nContent-Length: ${Buffer.byteLength(req.body)}\r\n\r\n${req.body}`
  );
}

/**
 * The clock thread (CommonJS, run with eval): waits for the start signal, then sleeps until
 * request i is due and posts i.
 * It posts once per wake-up; the main thread sends every request due by then.
 */
const CLOCK_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { intervalNs, scheduled, shared } = workerData;
// shared: [0..7] t0 (hrtime ns), [8..11] state: 0 not started, 1 running, 2 stop
const state = new Int32Array(shared, 8, 1);
Atomics.wait(state, 0, 0);
const t0 = new BigInt64Array(shared, 0, 1)[0];
let i = 0;
while (i < scheduled && Atomics.load(state, 0) === 1) {
  const now = Number(process.hrtime.bigint() - t0);
  const due = i * intervalNs;
  if (due > now) {
    Atomics.wait(state, 0, 1, (due - now) / 1e6);
    continue;
  }
  while (i < scheduled && i * intervalNs <= now) {
    i += 1;
  }
  parentPort.postMessage(i);
}
`;
interface Conn {
  socket: Socket | null;
  reader: ResponseReader;
  /** Scheduled time (ns since start) of the request in flight; -1 when idle. */
  scheduledNs: number;
  /** When the request in flight was written (ns since start), for the timeout. */
  sentNs: number;
  ready: boolean;
}

/**
 * Runs `rate x durationS` requests against 127.0.0.1:port at uniform intervals.
 * @param port - the server's port
 * @param next - the next request to send: signed (the mix), or already rendered as bytes (request-pool.ts)
 * @param options - connections, duration, rate, timeout
 */
export async function runPacedLoad(port: number, next: () => SignedRequest | Buffer, options: PacedOptions): Promise<PacedResult> {
  const host = `127.0.0.1:${port}`;
  const timeoutNs = (options.timeoutS ?? 10) * 1e9;
  const intervalNs = 1e9 / options.rate;
  const scheduled = Math.max(1, Math.floor(options.rate * options.durationS));
  const latencies = new Float64Array(scheduled);
  let completed = 0;
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let lastDoneNs = 0;
  /** Sending has begun (t0 is set). */
  let started = false;
  /** The run is over: no more connections are opened. */
  let finished = false;
  let t0 = 0n;
  const now = (): number => Number(process.hrtime.bigint() - t0);

  const conns: Conn[] = [];
  const idle: Conn[] = [];
  /** Scheduled times (ns since start) of requests waiting for a free connection, oldest first. */
  const waiting: number[] = [];
  let waitingHead = 0;
  let nextIndex = 0;

  const settled = (): number => completed + errors + timeouts;
  /** Set while the run is on: checks whether the last answer settled the run. */
  let onSettled: (() => void) | null = null;

  const drop = (c: Conn, countAs: 'error' | 'timeout' | 'none'): void => {
    if (c.scheduledNs >= 0) {
      if (countAs === 'timeout') {
        timeouts += 1;
      } else {
        errors += 1;
      }
      c.scheduledNs = -1;
    } else if (countAs === 'error' && !c.ready) {
      errors += 1; // a connection that failed to open
    }
    const i = idle.indexOf(c);
    if (i >= 0) {
      idle.splice(i, 1);
    }
    c.ready = false;
    c.reader.reset();
    const s = c.socket;
    c.socket = null;
    if (s) {
      s.removeAllListeners();
      s.on('error', () => undefined);
      s.destroy();
    }
  };

  const open = (c: Conn): Promise<void> =>
    new Promise<void>((resolve) => {
      if (finished) {
        resolve();
        return;
      }
      const s = connect({ host: '127.0.0.1', port, noDelay: true });
      c.socket = s;
      s.once('connect', () => {
        c.ready = true;
        idle.push(c);
        resolve();
        dispatch();
      });
      s.on('data', (chunk: Buffer) => {
        const out = c.reader.push(chunk);
        if (out.kind === 'more') {
          return;
        }
        if (out.kind === 'malformed' || c.scheduledNs < 0) {
          drop(c, 'error');
          reopenLater(c, 20);
          return;
        }
        const doneNs = now();
        if (completed < latencies.length) {
          latencies[completed] = (doneNs - c.scheduledNs) / 1e6;
        }
        completed += 1;
        lastDoneNs = doneNs;
        if (out.response.status < 200 || out.response.status >= 300) {
          non2xx += 1;
        }
        c.scheduledNs = -1;
        if (nextIndex >= scheduled && settled() >= scheduled) {
          onSettled?.();
        }
        if (out.response.close) {
          drop(c, 'none');
          reopenLater(c, 0);
        } else {
          idle.push(c);
        }
        dispatch();
      });
      const lost = (): void => {
        if (c.socket !== s) {
          return;
        }
        drop(c, 'error');
        reopenLater(c, 20);
        resolve();
      };
      s.on('error', lost);
      s.on('close', lost);
    });

  /**
   * Replaces a closed connection, unless nothing is left to send on it.
   * @param c - the connection
   * @param delayMs - a short pause after a failure, so a server that is down is not hammered
   */
  const reopenLater = (c: Conn, delayMs: number): void => {
    if (finished || (started && nextIndex >= scheduled && waitingHead >= waiting.length)) {
      return;
    }
    setTimeout(() => void open(c), delayMs).unref();
  };

  const dispatch = (): void => {
    if (!started) {
      return;
    }
    while (waitingHead < waiting.length && idle.length > 0) {
      const c = idle.shift() as Conn;
      const at = waiting[waitingHead++] as number;
      c.scheduledNs = at;
      c.sentNs = now();
      const req = next();
      (c.socket as Socket).write(Buffer.isBuffer(req) ? req : requestBytes(host, req));
    }
    if (waitingHead > 4096 && waitingHead * 2 > waiting.length) {
      waiting.splice(0, waitingHead);
      waitingHead = 0;
    }
  };

  for (let i = 0; i < options.connections; i++) {
    conns.push({ socket: null, reader: new ResponseReader(), scheduledNs: -1, sentNs: 0, ready: false });
  }
  await Promise.all(conns.map((c) => open(c)));

  // The clock: Node's timers fire 1 ms apart at best, and a request sent up to 1 ms after its
  // time would carry that lateness in its latency; a setImmediate loop is precise but keeps a
  // whole core busy, which on a small shared machine takes CPU from the server under test. So a
  // worker thread sleeps in Atomics.wait (sub-millisecond, no CPU) until the next request is
  // due and wakes this thread with a message; this thread sends every request whose time has come.
  const deadlineNs = options.durationS * 1e9 + timeoutNs;
  const shared = new SharedArrayBuffer(16);
  const state = new Int32Array(shared, 8, 1);
  const clock = new Worker(CLOCK_SOURCE, { eval: true, workerData: { intervalNs, scheduled, shared } });
  try {
    // The clock starts only once its thread runs, so the first requests are not late by its start-up.
    await once(clock, 'online');
    t0 = process.hrtime.bigint();
    new BigInt64Array(shared, 0, 1)[0] = t0;
    Atomics.store(state, 0, 1);
    Atomics.notify(state, 0);
    await new Promise<void>((resolve, reject) => {
      started = true;
      let over = false;
      const tick = (): void => {
        if (over) {
          return;
        }
        const t = now();
        while (nextIndex < scheduled && nextIndex * intervalNs <= t) {
          waiting.push(nextIndex * intervalNs);
          nextIndex += 1;
        }
        dispatch();
        for (const c of conns) {
          if (c.scheduledNs >= 0 && t - c.sentNs > timeoutNs) {
            drop(c, 'timeout');
            reopenLater(c, 0);
          }
        }
        if (settled() >= scheduled || t > deadlineNs) {
          over = true;
          clearInterval(watch);
          onSettled = null;
          resolve();
        }
      };
      // Timeouts, the deadline and the end are also checked between the clock's messages.
      const watch = setInterval(tick, 20);
      onSettled = tick;
      clock.on('message', tick);
      clock.on('error', (err) => {
        over = true;
        clearInterval(watch);
        reject(err);
      });
      tick();
    });
  } finally {
    Atomics.store(state, 0, 2);
    Atomics.notify(state, 0);
    await clock.terminate();
  }
  // Whatever is still waiting or in flight at the deadline never got an answer in time.
  const unanswered = scheduled - settled();
  timeouts += Math.max(0, unanswered);
  finished = true;
  for (const c of conns) {
    c.scheduledNs = -1;
    drop(c, 'none');
  }

  const n = Math.min(completed, latencies.length);
  const sorted = latencies.subarray(0, n).sort();
  const at = (q: number): number => round(sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? NaN, 2);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += sorted[i] as number;
  }
  const seconds = Math.max(options.durationS, lastDoneNs / 1e9);
  return {
    rps: completed / seconds,
    requests: completed,
    durationS: round(seconds, 3),
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(sorted[n - 1] ?? NaN, 2), mean: round(sum / Math.max(1, n), 2) },
    errors,
    timeouts,
    non2xx,
    scheduled,
  };
}
