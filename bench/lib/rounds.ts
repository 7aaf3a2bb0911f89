/**
 * Servers taking turns: each is warmed up, then they run round after round, one after
 * the other, so drift on a shared machine hits them all alike. Each variant's numbers are
 * medians over its rounds.
 */
import { median, presign, round, runLoad, type LoadResult } from './load.js';
import type { RequestMix } from './request-mix.js';
import type { ServerChild } from './servers.js';

export interface Contender {
  name: string;
  server: ServerChild;
  mix: RequestMix;
  /** The server does not look at MessageSid (a peer): a smaller signed pool is sent round and round. */
  reuse?: boolean;
}

export interface RoundsSettings {
  connections: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  log: (line: string) => void;
}

export interface VariantResult {
  name: string;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  requests: number;
  /** Server CPU time (user + system) per answered request: the steadiest number on a shared machine. */
  cpuMicrosPerRequest: number;
  rssMb: number;
}

export async function runRounds(contenders: readonly Contender[], s: RoundsSettings): Promise<VariantResult[]> {
  const lastRps = new Map<string, number>();
  for (const c of contenders) {
    const warm = await runLoad(c.server.port, { connections: s.connections, durationS: s.warmupS, signed: presign(c.mix, 2000), mix: c.mix, reuse: c.reuse === true });
    lastRps.set(c.name, warm.rps);
    s.log(`  warm-up ${c.name}: ${round(warm.rps, 0)} req/s`);
  }
  const runs = new Map<string, Array<LoadResult & { cpu: number }>>(contenders.map((c) => [c.name, []]));
  for (let r = 1; r <= s.rounds; r++) {
    for (const c of contenders) {
      // Fresh requests for 1.5x the last rate (at least 5,000 req/s: the warm-up runs cold), so none are signed during the run.
      const signed = presign(c.mix, c.reuse === true ? 20_000 : Math.min(400_000, Math.ceil(Math.max(5000, lastRps.get(c.name) ?? 0) * s.durationS * 1.5)));
      const cpuBefore = (await c.server.stats()).cpuMicros;
      const res = await runLoad(c.server.port, { connections: s.connections, durationS: s.durationS, signed, mix: c.mix, reuse: c.reuse === true });
      const cpu = ((await c.server.stats()).cpuMicros - cpuBefore) / Math.max(1, res.requests);
      runs.get(c.name)?.push({ ...res, cpu });
      lastRps.set(c.name, res.rps);
      s.log(
        `  round ${r} ${c.name}: ${round(res.rps, 0)} req/s, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, CPU ${round(cpu, 0)} µs/request, errors ${res.errors}` +
          (res.signedDuringRun > 0 ? `, ${res.signedDuringRun} signed during the run` : ''),
      );
    }
  }
  const out: VariantResult[] = [];
  for (const c of contenders) {
    const list = runs.get(c.name) ?? [];
    out.push({
      name: c.name,
      rps: round(median(list.map((x) => x.rps)), 0),
      latencyMs: { p50: round(median(list.map((x) => x.latencyMs.p50))), p99: round(median(list.map((x) => x.latencyMs.p99))), max: Math.max(...list.map((x) => x.latencyMs.max)) },
      errors: list.reduce((sum, x) => sum + x.errors, 0),
      requests: list.reduce((sum, x) => sum + x.requests, 0),
      cpuMicrosPerRequest: round(median(list.map((x) => x.cpu)), 0),
      rssMb: round((await c.server.stats()).rss / 2 ** 20, 0),
    });
  }
  return out;
}
