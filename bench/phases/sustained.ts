/**
 * The full service under load for a minute (closed loop, 10 connections): does it hold
 * its throughput, and does its memory stay flat? The embedded store is bounded low
 * (MEMORY_STORE_MAX_MESSAGES) so that it is full before the clock starts: production does
 * not run it, and its filling up is not what this run asks about. Heap is measured after a
 * forced full GC right before and right after the run (none is forced during it).
 */
import { presign, round, runLoad, type LoadResult } from '../lib/load.js';
import { startServer } from '../lib/servers.js';
import { mixFor, serviceEnv, type World } from '../lib/world.js';

export interface SustainedResult {
  durationS: number;
  load: Omit<LoadResult, 'perSecond'>;
  /** Mean req/s of the last fifth of the run over that of the first fifth. */
  lastOverFirst: number;
  heapAfterGcMb: { before: number; after: number };
  rssMb: { before: number; max: number; after: number };
}

const STORE_BOUND = 2000;

export async function runSustained(root: string, world: World, options: { durationS: number; warmupS: number; connections: number }): Promise<SustainedResult> {
  const server = await startServer(root, 'full-service', serviceEnv(world, { MEMORY_STORE_MAX_MESSAGES: String(STORE_BOUND) }));
  try {
    const mix = mixFor(world, 900);
    const warm = await runLoad(server.port, { connections: options.connections, durationS: options.warmupS, signed: presign(mix, STORE_BOUND * 2), mix });
    const signed = presign(mix, Math.ceil(Math.max(warm.rps, 500) * options.durationS * 1.4));
    const before = await server.stats(true);
    let maxRss = before.rss;
    const timer = setInterval(() => void server.stats().then((s) => (maxRss = Math.max(maxRss, s.rss))), 5000);
    let load: LoadResult;
    try {
      load = await runLoad(server.port, { connections: options.connections, durationS: options.durationS, signed, mix });
    } finally {
      clearInterval(timer);
    }
    const after = await server.stats(true);
    const fifth = Math.max(1, Math.floor(load.perSecond.length / 5));
    const avg = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
    const mb = (bytes: number | null): number => round((bytes ?? NaN) / 2 ** 20, 1);
    const { perSecond, ...rest } = load;
    return {
      durationS: options.durationS,
      load: rest,
      lastOverFirst: round(avg(perSecond.slice(-fifth)) / avg(perSecond.slice(0, fifth))),
      heapAfterGcMb: { before: mb(before.heapAfterGc), after: mb(after.heapAfterGc) },
      rssMb: { before: mb(before.rss), max: mb(Math.max(maxRss, after.rss)), after: mb(after.rss) },
    };
  } finally {
    await server.stop();
  }
}
