/**
 * Sustained load: the full service (embedded store) at a fixed rate (80% of the measured
 * maximum) for a while, after a warm-up at the same rate. Memory is sampled every few
 * seconds (RSS, heap) and, with a full GC first, right before and right after the
 * measured run (heap after GC is what is really kept; no GC is forced during the run). The
 * warm-up lasts until the embedded store holds its bound (MEMORY_STORE_MAX_MESSAGES), so the
 * minute measures its steady state: growth per request is reported next to what the store
 * still keeps by design at its bound (record-size.ts).
 */
import { join } from 'node:path';
import { runLoad, type LoadResult } from '../lib/load.js';
import { RequestBytesPool } from '../lib/request-pool.js';
import { startServerChild, type ServerRuntime } from '../lib/server-child.js';
import { serviceEnv } from '../lib/bench-env.js';
import { outcomeCounts } from '../lib/scrape.js';
import { mb, round } from '../lib/stats.js';
import type { World } from '../lib/world.js';
import { mixFor } from './compare.js';
import type { MemorySample } from '../servers/child-ipc.js';

export interface SustainedSample {
  atS: number;
  rssMb: number;
  heapUsedMb: number;
  heapAfterGcMb: number | null;
  /** Webhook requests answered so far. */
  requests: number;
  /** Full collections the server made so far (forced ones included). */
  fullGcs: number;
}

export interface SustainedResult {
  store: 'memory' | 'mongo';
  rate: number;
  durationS: number;
  load: LoadResult;
  samples: SustainedSample[];
  /** Heap after GC: growth per answered request between the first sample after warm-up and the last. */
  heapGrowthBytesPerRequest: number | null;
  rssGrowthMbAfterWarmup: number;
  /**
   * Full collections V8 started on its own during the measured run, per minute: counted
   * between the first and the last sample taken during it (those force none).
   */
  fullGcsPerMinute: number | null;
  outcomes: Record<string, number>;
}

export interface SustainedOptions {
  runtime: ServerRuntime;
  world: World;
  rate: number;
  durationS: number;
  sampleEveryS: number;
  warmupS: number;
  connections: number;
  mongoUri?: string;
  log: (l: string) => void;
}

/** Seconds at the rate between the first forced GC and the measured run. */
const REWARM_S = 5;

function fullGcsPerMinute(during: SustainedSample[]): number | null {
  const first = during[0];
  const last = during.at(-1);
  return first && last && last.atS > first.atS ? round(((last.fullGcs - first.fullGcs) * 60) / (last.atS - first.atS), 1) : null;
}

export async function runSustained(options: SustainedOptions): Promise<SustainedResult> {
  const { world } = options;
  const env = serviceEnv(world, options.mongoUri ? { mongodbUri: options.mongoUri } : {});
  const child = await startServerChild('full-service', {
    runtime: options.runtime,
    env,
    logFile: join(world.dir, 'sustained.log'),
  });
  try {
    const mix = mixFor(world, 900);
    const samples: SustainedSample[] = [];
    let started = Date.now();
    const sample = async (gc: boolean): Promise<SustainedSample> => {
      const m: MemorySample = await child.memory(gc);
      const outcomes = await outcomeCounts(child.port);
      const s: SustainedSample = {
        atS: round((Date.now() - started) / 1000, 1),
        rssMb: mb(m.rss),
        heapUsedMb: mb(m.heapUsed),
        heapAfterGcMb: m.heapUsedAfterGc === null ? null : mb(m.heapUsedAfterGc),
        requests: Object.values(outcomes).reduce((sum, x) => sum + x, 0),
        fullGcs: m.fullGcs,
      };
      samples.push(s);
      return s;
    };
    // Warm-up at the same rate, then a full GC between runs (no load), so the measured run has no forced GC pauses.
    await runLoad(child.port, mix, { connections: options.connections, durationS: options.warmupS, overallRate: options.rate, prefill: Math.ceil(options.rate * options.warmupS) });
    // Signed now, so the re-warm and the measured minute run back to back: an idle server lets V8
    // start a memory-reducing collection, and the load would come back in the middle of it.
    // As bytes outside the bench's heap: as objects, their full collections here paused the load generator.
    const host = `127.0.0.1:${child.port}`;
    const rewarmPool = new RequestBytesPool(host, mix, Math.ceil(options.rate * REWARM_S));
    const measuredPool = new RequestBytesPool(host, mix, Math.ceil(options.rate * options.durationS * 1.05));
    started = Date.now();
    const warm = await sample(true);
    // A forced full GC costs the JIT its warmth (V8 drops type feedback and old bytecode), and the
    // server comes back slower for a moment: at 80% of its maximum that builds a backlog the whole
    // minute would carry. A few seconds more at the same rate first; the memory measure counts them.
    await runLoad(child.port, mix, { connections: options.connections, durationS: REWARM_S, overallRate: options.rate, prefill: 0, bytesPool: rewarmPool });
    const during: SustainedSample[] = [];
    const timer = setInterval(() => void sample(false).then((s) => during.push(s)), options.sampleEveryS * 1000);
    let load: LoadResult;
    try {
      load = await runLoad(child.port, mix, {
        connections: options.connections,
        durationS: options.durationS,
        overallRate: options.rate,
        prefill: 0,
        bytesPool: measuredPool,
      });
    } finally {
      clearInterval(timer);
    }
    const last = await sample(true);
    const growth =
      warm.heapAfterGcMb !== null && last.heapAfterGcMb !== null && last.requests > warm.requests
        ? ((last.heapAfterGcMb - warm.heapAfterGcMb) * 1024 * 1024) / (last.requests - warm.requests)
        : null;
    const result: SustainedResult = {
      store: options.mongoUri ? 'mongo' : 'memory',
      rate: options.rate,
      durationS: options.durationS,
      load,
      samples,
      heapGrowthBytesPerRequest: growth === null ? null : round(growth, 0),
      rssGrowthMbAfterWarmup: round(last.rssMb - warm.rssMb, 1),
      fullGcsPerMinute: fullGcsPerMinute(during),
      outcomes: await outcomeCounts(child.port),
    };
    options.log(
      `  ${options.durationS} s paced at ${options.rate} req/s (${result.store}): ${round(load.rps, 0)} req/s done, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, max ${load.latencyMs.max} ms, errors ${load.errors + load.timeouts}, non-2xx ${load.non2xx}; heap after GC +${result.heapGrowthBytesPerRequest ?? '?'} B/request after warm-up; ${result.fullGcsPerMinute ?? '?'} full GCs a minute`,
    );
    return result;
  } finally {
    await child.stop();
  }
}
