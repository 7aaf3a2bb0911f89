/**
 * Drives a server on loopback: as fast as it goes with autocannon (closed loop), or at a
 * fixed rate with the paced driver in paced-load.ts (open loop; autocannon's per-second
 * quota per connection makes its fixed-rate runs bursty). Each request is taken from the
 * request mix (pre-generated before the clock starts, so signing costs the load generator
 * nothing while measuring; made on the fly only if the pool runs dry).
 */
import type { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import autocannon from 'autocannon';
import { WEBHOOK_PATH, type RequestMix, type SignedRequest } from './request-mix.js';
import { runPacedLoad } from './paced-load.js';
import { RequestBytesPool } from './request-pool.js';
import { round } from './stats.js';

export interface LoadOptions {
  connections: number;
  durationS: number;
  /**
   * Requests per second over all connections, sent at even intervals by the paced driver and
   * timed from each request's scheduled send time; unset: as fast as it goes (autocannon).
   */
  overallRate?: number;
  /** Requests to sign before the clock starts. */
  prefill: number;
  /** Requests signed earlier, used instead of signing `prefill` now (back-to-back runs leave the server no idle gap). */
  pool?: SignedRequest[];
  /** For paced runs: requests rendered earlier as bytes (request-pool.ts), used instead of `pool` and `prefill`. */
  bytesPool?: RequestBytesPool;
}

export interface LoadResult {
  /** Completed requests per second (all responses / elapsed). */
  rps: number;
  requests: number;
  durationS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Requests signed on the fly because the pool ran dry. */
  signedDuringRun: number;
}

let gc: (() => void) | undefined;

/**
 * A full collection in the load generator (this process) right before a run. Its own full
 * collections during a run paused it for 50–580 ms with the heap the earlier phases left (the
 * bench runs without --expose-gc, so the flag is turned on here), and a paused load generator
 * times its requests late: the pause was counted as the server's latency.
 */
export function collectLoadGeneratorGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/**
 * Signs `count` requests of the mix ahead of a run.
 * @param mix - the request stream
 * @param count - how many
 */
export function prefill(mix: RequestMix, count: number): SignedRequest[] {
  const pool: SignedRequest[] = new Array<SignedRequest>(count);
  for (let i = 0; i < count; i++) {
    pool[i] = mix.next();
  }
  return pool;
}

/**
 * One run against 127.0.0.1:port: paced when `overallRate` is set, else autocannon.
 * @param port - the server's port
 * @param mix - the request stream
 * @param options - connections, duration, rate, prefill
 */
export async function runLoad(port: number, mix: RequestMix, options: LoadOptions): Promise<LoadResult> {
  let onTheFly = 0;
  if (options.overallRate !== undefined) {
    // Paced: the requests as bytes outside the load generator's heap (request-pool.ts).
    const bytes = options.bytesPool ?? new RequestBytesPool(`127.0.0.1:${port}`, mix, options.pool ? 0 : options.prefill);
    collectLoadGeneratorGarbage();
    const signed = options.pool ?? [];
    let next = 0;
    const takeBytes = (): SignedRequest | Buffer => {
      const b = bytes.take();
      if (b) {
        return b;
      }
      if (next < signed.length) {
        return signed[next++] as SignedRequest;
      }
      onTheFly += 1;
      return mix.next();
    };
    const paced = await runPacedLoad(port, takeBytes, { connections: options.connections, durationS: options.durationS, rate: options.overallRate, timeoutS: 10 });
    return {
      rps: paced.rps,
      requests: paced.requests,
      durationS: paced.durationS,
      latencyMs: paced.latencyMs,
      errors: paced.errors,
      timeouts: paced.timeouts,
      non2xx: paced.non2xx,
      signedDuringRun: onTheFly,
    };
  }
  const pool = options.pool ?? prefill(mix, options.prefill);
  let cursor = 0;
  const take = (): SignedRequest => {
    if (cursor < pool.length) {
      return pool[cursor++] as SignedRequest;
    }
    onTheFly += 1;
    return mix.next();
  };
  const latencies: number[] = [];
  collectLoadGeneratorGarbage();
  const instance = autocannon({
    url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: WEBHOOK_PATH,
        setupRequest: (req) => {
          const next = take();
          return {
            ...req,
            method: 'POST',
            path: WEBHOOK_PATH,
            body: next.body,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': next.signature },
          };
        },
      },
    ],
  });
  // autocannon's histogram keeps whole milliseconds; its response event has the exact time.
  (instance as unknown as EventEmitter).on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
  });
  const result = await instance;
  const total = result.requests.total;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => round(latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(q * latencies.length) - 1))] ?? NaN, 2);
  const mean = latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length);
  const seconds = result.duration;
  return {
    rps: total / seconds,
    requests: total,
    durationS: seconds,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(latencies[latencies.length - 1] ?? NaN, 2), mean: round(mean, 2) },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    signedDuringRun: onTheFly,
  };
}
