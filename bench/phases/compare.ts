/**
 * The side-by-side run: (a) bare Koa, (b) minimal handler, (c) the full service on the
 * embedded store, (c/info) the same with LOG_LEVEL=info, (d) the full service on
 * MongoDB when MONGODB_URI is set. All children start first and are warmed up; then
 * the variants take turns, round after round, so drift on a shared machine hits all alike.
 */
import { join } from 'node:path';
import { runLoad, type LoadResult } from '../lib/load.js';
import { createRequestMix, type RequestMix } from '../lib/request-mix.js';
import { outcomeCounts } from '../lib/scrape.js';
import { startServerChild, type ServerChild, type ServerRuntime } from '../lib/server-child.js';
import { baseEnv, serviceEnv } from '../lib/bench-env.js';
import { median, round } from '../lib/stats.js';
import { openBenchDb, type BenchDb } from '../lib/mongo-db.js';
import { BENCH_ACCOUNT_SID, BENCH_BASE_URL, BENCH_TOKEN, knownSenders, type World } from '../lib/world.js';
import { WEBHOOK_PATH } from '../lib/request-mix.js';

export type VariantKey = 'a' | 'b' | 'c' | 'c-info' | 'd';

export interface VariantSummary {
  key: VariantKey;
  label: string;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: number;
  /** Webhook outcomes from /metrics (full service only). */
  outcomes?: Record<string, number>;
  rssMb?: number;
  /** Latency at the same offered load for a, b and c (half of (c)'s maximum): no queueing to speak of. */
  paced?: PacedSummary;
  /** Server CPU time (user + system) per answered request, microseconds: the cost, whatever the noise. */
  cpuMicrosPerRequest: number;
  rounds: LoadResult[];
}

/**
 * The paced runs of one variant: as many rounds as the saturated ones, taken in turns with the
 * other variants; p50 and p99 are medians over the rounds (a paced p99 rests on a few dozen
 * slow requests, which this shared machine can produce by itself), max the largest.
 */
export interface PacedSummary {
  rate: number;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Each round's p99, in the order run. */
  p99ByRound: number[];
  errors: number;
  non2xx: number;
}

export interface CompareOptions {
  world: World;
  /** How every child runs (the same for all variants). */
  runtime: ServerRuntime;
  mongoUri?: string | undefined;
  connections: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  log: (line: string) => void;
  /** Extra node flags for the (c) child (profiling). */
  cNodeFlags?: string[];
}

const LABELS: Record<VariantKey, string> = {
  a: '(a) bare Koa, fixed string',
  b: '(b) minimal: bodyparser + signature + fixed TwiML',
  c: '(c) full service, embedded store',
  'c-info': '(c) full service, embedded store, LOG_LEVEL=info',
  d: '(d) full service, MongoDB',
};

/** Guesses of req/s used to size the first pool of signed requests. */
const GUESS: Record<VariantKey, number> = { a: 12000, b: 6000, c: 2500, 'c-info': 2000, d: 600 };

interface Running {
  key: VariantKey;
  child: ServerChild;
  mix: RequestMix;
  db?: BenchDb;
  rounds: LoadResult[];
  cpuPerRequest: number[];
  lastRps: number;
}

export function mixFor(world: World, seed: number): RequestMix {
  return createRequestMix(
    {
      url: `${BENCH_BASE_URL}${WEBHOOK_PATH}`,
      authToken: BENCH_TOKEN,
      accountSid: BENCH_ACCOUNT_SID,
      clinicNumbers: world.clinics.map((c) => c.number),
      patients: knownSenders(world),
      extraKeywords: world.extraKeywords,
    },
    { seed },
  );
}

export async function runCompare(options: CompareOptions): Promise<VariantSummary[]> {
  const { world, log, runtime } = options;
  const keys: VariantKey[] = ['a', 'b', 'c', 'c-info', ...(options.mongoUri ? (['d'] as const) : [])];
  const running: Running[] = [];
  try {
    for (const [i, key] of keys.entries()) {
      let child: ServerChild;
      let db: BenchDb | undefined;
      if (key === 'a') {
        child = await startServerChild('bare-koa', { runtime, env: baseEnv() });
      } else if (key === 'b') {
        child = await startServerChild('minimal-handler', { runtime, env: baseEnv() });
      } else if (key === 'd') {
        db = await openBenchDb(options.mongoUri as string, 'compare', world);
        child = await startServerChild('full-service', { runtime, env: serviceEnv(world, { mongodbUri: db.uri }), logFile: join(world.dir, 'd.log') });
      } else {
        child = await startServerChild('full-service', {
          runtime,
          env: serviceEnv(world, { logLevel: key === 'c-info' ? 'info' : 'warn' }),
          logFile: join(world.dir, `${key}.log`),
          ...(key === 'c' && options.cNodeFlags ? { nodeFlags: options.cNodeFlags } : {}),
        });
      }
      const r: Running = { key, child, mix: mixFor(world, 100 + i), rounds: [], cpuPerRequest: [], lastRps: GUESS[key], ...(db ? { db } : {}) };
      running.push(r);
      const warm = await runLoad(child.port, r.mix, { connections: options.connections, durationS: options.warmupS, prefill: 0 });
      log(`  warm-up ${LABELS[key]}: ${round(warm.rps, 0)} req/s`);
      if (warm.requests > 0) {
        r.lastRps = warm.rps;
      }
    }
    for (let round_ = 1; round_ <= options.rounds; round_++) {
      for (const r of running) {
        const cpuBefore = (await r.child.memory()).cpuMicros;
        const res = await runLoad(r.child.port, r.mix, {
          connections: options.connections,
          durationS: options.durationS,
          prefill: Math.min(200_000, Math.ceil(r.lastRps * options.durationS * 1.3)),
        });
        const cpu = ((await r.child.memory()).cpuMicros - cpuBefore) / Math.max(1, res.requests);
        r.rounds.push(res);
        r.cpuPerRequest.push(cpu);
        r.lastRps = res.rps;
        log(
          `  round ${round_} ${LABELS[r.key]}: ${round(res.rps, 0)} req/s, server CPU ${round(cpu, 0)} µs/request, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, max ${res.latencyMs.max} ms, errors ${res.errors + res.timeouts}, non-2xx ${res.non2xx}`,
        );
      }
    }
    const cRunning = running.find((r) => r.key === 'c');
    const pacedRate = cRunning ? Math.max(50, Math.round(median(cRunning.rounds.map((x) => x.rps)) * 0.5)) : 0;
    const pacedRuns = new Map<VariantKey, LoadResult[]>();
    const pacedVariants = running.filter((x) => ['a', 'b', 'c'].includes(x.key) && pacedRate > 0);
    for (let round_ = 1; round_ <= options.rounds; round_++) {
      for (const r of pacedVariants) {
        const res = await runLoad(r.child.port, r.mix, { connections: options.connections, durationS: options.durationS, overallRate: pacedRate, prefill: Math.ceil(pacedRate * options.durationS * 1.05) });
        pacedRuns.set(r.key, [...(pacedRuns.get(r.key) ?? []), res]);
        log(
          `  paced round ${round_} at ${pacedRate} req/s ${LABELS[r.key]}: ${round(res.rps, 0)} req/s done, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, max ${res.latencyMs.max} ms, errors ${res.errors + res.timeouts}, non-2xx ${res.non2xx}`,
        );
      }
    }
    const paced = new Map<VariantKey, PacedSummary>();
    for (const [key, runs] of pacedRuns) {
      paced.set(key, summarizePaced(pacedRate, runs));
    }
    const out: VariantSummary[] = [];
    for (const r of running) {
      const summary: VariantSummary = {
        key: r.key,
        label: LABELS[r.key],
        rps: round(median(r.rounds.map((x) => x.rps)), 0),
        latencyMs: {
          p50: median(r.rounds.map((x) => x.latencyMs.p50)),
          p99: median(r.rounds.map((x) => x.latencyMs.p99)),
          max: Math.max(...r.rounds.map((x) => x.latencyMs.max)),
        },
        errors: r.rounds.reduce((s, x) => s + x.errors, 0),
        timeouts: r.rounds.reduce((s, x) => s + x.timeouts, 0),
        non2xx: r.rounds.reduce((s, x) => s + x.non2xx, 0),
        requests: r.rounds.reduce((s, x) => s + x.requests, 0),
        rssMb: round((await r.child.memory()).rss / 1024 / 1024, 1),
        cpuMicrosPerRequest: round(median(r.cpuPerRequest), 0),
        rounds: r.rounds,
        ...(paced.has(r.key) ? { paced: paced.get(r.key) } : {}),
      };
      if (r.child.kind === 'full-service') {
        summary.outcomes = await outcomeCounts(r.child.port);
      }
      out.push(summary);
    }
    return out;
  } finally {
    for (const r of running) {
      await r.child.stop();
      await r.db?.drop();
    }
  }
}

/** One variant's paced rounds as one row: medians of rps, p50 and p99, the largest max, errors summed. */
export function summarizePaced(rate: number, runs: readonly LoadResult[]): PacedSummary {
  return {
    rate,
    rps: round(median(runs.map((x) => x.rps)), 0),
    latencyMs: {
      p50: median(runs.map((x) => x.latencyMs.p50)),
      p99: median(runs.map((x) => x.latencyMs.p99)),
      max: Math.max(...runs.map((x) => x.latencyMs.max)),
    },
    p99ByRound: runs.map((x) => x.latencyMs.p99),
    errors: runs.reduce((s, x) => s + x.errors + x.timeouts, 0),
    non2xx: runs.reduce((s, x) => s + x.non2xx, 0),
  };
}
