/**
 * Open-loop load: requests sent at a fixed rate whatever the server's answers (not as fast
 * as it answers), so a background job is judged at a rate production sees, not at the
 * saturation a closed loop drives the server to (where any extra CPU shows as queueing).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { round } from './load.js';
import { WEBHOOK_PATH, type SignedRequest } from './request-mix.js';

export function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

export const summary = (values: number[]): { p50: number; p99: number; max: number } => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)), max: round(sorted.at(-1) ?? NaN) };
};

/** Sends `requests` at `ratePerS`, open loop; resolves with each one's send time and latency. */
export async function sendAtRate(port: number, requests: readonly SignedRequest[], ratePerS: number): Promise<{ sentAt: Map<string, number>; latencies: number[]; answered: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let answered = 0;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < requests.length; i++) {
    const due = start + (i * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 1) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const r = requests[i] as SignedRequest;
    const t0 = performance.now();
    if (!sentAt.has(r.messageSid)) {
      sentAt.set(r.messageSid, t0);
    }
    inFlight.push(
      new Promise<void>((resolve) => {
        const req = request(
          { host: '127.0.0.1', port, path: WEBHOOK_PATH, method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': r.signature } },
          (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(performance.now() - t0);
              answered += res.statusCode === 200 ? 1 : 0;
              resolve();
            });
          },
        );
        req.on('error', () => resolve());
        req.end(r.body);
      }),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { sentAt, latencies, answered };
}

