/**
 * Many clinics, each with its own rules file: time from fork to listening, resident
 * memory, and the whole reload that SIGHUP (and the file watcher) runs, timed from the
 * signal until rules_reloads_total moves on /metrics (polled every 20 ms: a scrape with
 * 1,000 clinics' rules-version gauges is not free, and polling harder slows the reload). A 4-clinic start is measured
 * alongside, so the part the clinics add shows.
 */
import { performance } from 'node:perf_hooks';
import { median, round } from '../lib/load.js';
import { startServer, type ServerChild } from '../lib/servers.js';
import { createWorld, serviceEnv } from '../lib/world.js';

export interface ClinicsScaleRow {
  clinics: number;
  startMs: number;
  rssMb: number;
  reloadMs: { p50: number; max: number } | null;
}

async function reloadsSoFar(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return [...text.matchAll(/^rules_reloads_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function timeReload(server: ServerChild): Promise<number> {
  const before = await reloadsSoFar(server.port);
  const t0 = performance.now();
  process.kill(server.pid, 'SIGHUP');
  while ((await reloadsSoFar(server.port)) === before) {
    if (performance.now() - t0 > 120_000) {
      throw new Error('no reload within 120 s of SIGHUP');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}

export async function runClinicsScale(root: string, counts: readonly number[], reloads: number): Promise<ClinicsScaleRow[]> {
  const out: ClinicsScaleRow[] = [];
  for (const clinics of counts) {
    const world = await createWorld({ clinics, patientsPerClinic: 0 });
    const server = await startServer(root, 'full-service', { ...serviceEnv(world), SEED_FILE: 'none' });
    try {
      const rssMb = round((await server.stats()).rss / 2 ** 20, 0);
      const times: number[] = [];
      for (let i = 0; i < reloads; i++) {
        times.push(await timeReload(server));
      }
      out.push({ clinics, startMs: round(server.startMs, 0), rssMb, reloadMs: times.length ? { p50: round(median(times), 0), max: round(Math.max(...times), 0) } : null });
    } finally {
      await server.stop();
      await world.remove();
    }
  }
  return out;
}
