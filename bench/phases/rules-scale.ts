/**
 * Throughput of the full service (embedded store) with 10, 50 and 200 rules per clinic,
 * the same traffic for each (generated rules answer keywords of their own that the
 * traffic does not send: they are the non-matching rules the keyword index skips).
 * Variants take turns round after round; throughput is reported as a ratio to 10 rules.
 */
import { join } from 'node:path';
import { runLoad, type LoadResult } from '../lib/load.js';
import { startServerChild, type ServerChild, type ServerRuntime } from '../lib/server-child.js';
import { serviceEnv } from '../lib/bench-env.js';
import { median, round } from '../lib/stats.js';
import { createWorld, type World } from '../lib/world.js';
import { mixFor } from './compare.js';

export interface RulesScaleResult {
  rulesPerClinic: number;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  /** rps(10) / rps(this): the cost relative to 10 rules. */
  costRatioTo10: number;
  /** rps(this) / rps(10). */
  throughputRatioTo10: number;
  rounds: LoadResult[];
}

export interface RulesScaleOptions {
  runtime: ServerRuntime;
  counts: number[];
  clinics: number;
  patientsPerClinic: number;
  connections: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  log: (line: string) => void;
}

export async function runRulesScale(options: RulesScaleOptions): Promise<RulesScaleResult[]> {
  const runs: Array<{ n: number; world: World; child: ServerChild; rounds: LoadResult[]; mix: ReturnType<typeof mixFor>; lastRps: number }> = [];
  const worlds: World[] = [];
  try {
    for (const n of options.counts) {
      const world = await createWorld({ clinics: options.clinics, patientsPerClinic: options.patientsPerClinic, rulesPerClinic: n });
      worlds.push(world);
      const child = await startServerChild('full-service', { runtime: options.runtime, env: serviceEnv(world), logFile: join(world.dir, 'server.log') });
      // The same traffic for every variant: no generated keywords in it.
      const mix = mixFor({ ...world, extraKeywords: [] }, 500);
      const run = { n, world, child, rounds: [] as LoadResult[], mix, lastRps: 2000 };
      runs.push(run);
      const warm = await runLoad(child.port, mix, { connections: options.connections, durationS: options.warmupS, prefill: 0 });
      run.lastRps = warm.rps || run.lastRps;
      options.log(`  warm-up ${n} rules: ${round(warm.rps, 0)} req/s`);
    }
    for (let r = 1; r <= options.rounds; r++) {
      for (const run of runs) {
        const res = await runLoad(run.child.port, run.mix, {
          connections: options.connections,
          durationS: options.durationS,
          prefill: Math.ceil(run.lastRps * options.durationS * 1.3),
        });
        run.rounds.push(res);
        run.lastRps = res.rps;
        options.log(`  round ${r}, ${run.n} rules/clinic: ${round(res.rps, 0)} req/s, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, errors ${res.errors + res.timeouts}, non-2xx ${res.non2xx}`);
      }
    }
    const base = median((runs[0] as (typeof runs)[number]).rounds.map((x) => x.rps));
    return runs.map((run) => {
      const rps = median(run.rounds.map((x) => x.rps));
      return {
        rulesPerClinic: run.world.rulesPerClinic,
        rps: round(rps, 0),
        latencyMs: {
          p50: median(run.rounds.map((x) => x.latencyMs.p50)),
          p99: median(run.rounds.map((x) => x.latencyMs.p99)),
          max: Math.max(...run.rounds.map((x) => x.latencyMs.max)),
        },
        errors: run.rounds.reduce((s, x) => s + x.errors + x.timeouts, 0),
        non2xx: run.rounds.reduce((s, x) => s + x.non2xx, 0),
        costRatioTo10: round(base / rps, 3),
        throughputRatioTo10: round(rps / base, 3),
        rounds: run.rounds,
      };
    });
  } finally {
    for (const run of runs) {
      await run.child.stop();
    }
    for (const world of worlds) {
      await world.remove();
    }
  }
}
