/**
 * Drives a server on loopback with autocannon, as fast as it answers (closed loop). The
 * requests are signed before the clock starts and handed out in order across connections,
 * so every request keeps its own MessageSid; if they run out, the rest are signed during
 * the run (and counted, so a short pool shows), or, for servers that do not look at the
 * MessageSid (the peers), the signed ones are sent again.
 */
import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import { WEBHOOK_PATH, type RequestMix, type SignedRequest } from './request-mix.js';

export interface LoadResult {
  rps: number;
  requests: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
  /** Requests signed during the run because the pre-signed ones ran out. */
  signedDuringRun: number;
  /** Requests answered in each second of the run. */
  perSecond: number[];
}

/** Signs `count` requests of the mix, before a run. */
export function presign(mix: RequestMix, count: number): SignedRequest[] {
  return Array.from({ length: count }, () => mix.next());
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return (((sorted[Math.floor(mid)] ?? NaN) + (sorted[Math.ceil(mid)] ?? NaN)) / 2);
}

/**
 * One closed-loop run against 127.0.0.1:port.
 * @param signed - the requests, signed ahead (see presign)
 * @param mix - where more come from if they run out
 */
export async function runLoad(port: number, options: { connections: number; durationS: number; signed: SignedRequest[]; mix: RequestMix; reuse?: boolean }): Promise<LoadResult> {
  let cursor = 0;
  let signedDuringRun = 0;
  const take = (): SignedRequest => {
    if (cursor < options.signed.length) {
      return options.signed[cursor++] as SignedRequest;
    }
    if (options.reuse === true && options.signed.length > 0) {
      cursor = 1;
      return options.signed[0] as SignedRequest;
    }
    signedDuringRun += 1;
    return options.mix.next();
  };
  const headers = (r: SignedRequest): Record<string, string> => ({ 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': r.signature });
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: WEBHOOK_PATH,
        setupRequest: (req) => {
          const next = take();
          return { ...req, body: next.body, headers: headers(next) };
        },
      },
    ],
  });
  // autocannon's histogram keeps whole milliseconds; its response event has the exact time.
  const latencies: number[] = [];
  const perSecond: number[] = [];
  const events = instance as unknown as EventEmitter;
  events.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
  events.on('tick', (tick: { counter: number }) => perSecond.push(tick.counter));
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? NaN);
  return {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    latencyMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
    errors: result.errors + result.timeouts + result.non2xx,
    signedDuringRun,
    perSecond,
  };
}
