/**
 * 1,000 clinics, each with its own rules file: start-up time, resident memory of the
 * server child, and reload times (one clinic through loadClinicRules; everything
 * through reloadRules, what the file watcher and SIGHUP run). A 4-clinic start is
 * measured alongside, so the part the clinics add is visible.
 */
import { join } from 'node:path';
import { startServerChild, type ServerRuntime } from '../lib/server-child.js';
import { serviceEnv } from '../lib/bench-env.js';
import { mb, median, quantile, round } from '../lib/stats.js';
import { createWorld } from '../lib/world.js';

export interface StartMeasure {
  clinics: number;
  /** fork() to listening, Node start included (and tsx's under --tsx). */
  spawnToReadyMs: number;
  /** Process start to listening (process.uptime() in the child). */
  processStartMs: number;
  /** startService() alone: config, clinics, rules, store, listen. */
  serviceStartMs: number;
  rssMb: number;
  rssAfterGcMb: number;
  heapUsedAfterGcMb: number;
}

export interface ClinicsScaleResult {
  baseline: StartMeasure;
  large: StartMeasure;
  reloadOneClinicMs: { p50: number; max: number; samples: number };
  reloadAllMs: number;
  reloadAllStatus: string;
}

interface ReloadAnswer {
  ms: number;
  status?: string;
}

async function measureStart(runtime: ServerRuntime, clinics: number, log: (l: string) => void): Promise<{ m: StartMeasure; child: Awaited<ReturnType<typeof startServerChild>>; remove: () => Promise<void> }> {
  const world = await createWorld({ clinics, patientsPerClinic: 0 });
  const child = await startServerChild('full-service', { runtime, env: serviceEnv(world, { seed: false }), logFile: join(world.dir, 'server.log') });
  const before = await child.memory(false);
  const after = await child.memory(true);
  const m: StartMeasure = {
    clinics,
    spawnToReadyMs: round(child.spawnToReadyMs, 0),
    processStartMs: child.ready.startMs,
    serviceStartMs: Number((child.ready.info as { serviceStartMs: number }).serviceStartMs),
    rssMb: mb(before.rss),
    rssAfterGcMb: mb((await child.memory(false)).rss),
    heapUsedAfterGcMb: mb(after.heapUsedAfterGc ?? after.heapUsed),
  };
  log(`  ${clinics} clinics: listening ${m.spawnToReadyMs} ms after fork (startService ${m.serviceStartMs} ms), RSS ${m.rssMb} MB`);
  return { m, child, remove: () => world.remove() };
}

export async function runClinicsScale(options: { runtime: ServerRuntime; clinics: number; reloadSamples: number; log: (l: string) => void }): Promise<ClinicsScaleResult> {
  const small = await measureStart(options.runtime, 4, options.log);
  await small.child.stop();
  await small.remove();
  const large = await measureStart(options.runtime, options.clinics, options.log);
  try {
    const times: number[] = [];
    for (let i = 0; i < options.reloadSamples; i++) {
      const id = `clinic-${String((i * 97) % options.clinics).padStart(4, '0')}`;
      times.push((await large.child.command<ReloadAnswer>('reload-one', { clinicId: id })).ms);
    }
    const all = await large.child.command<ReloadAnswer>('reload-all');
    const result: ClinicsScaleResult = {
      baseline: small.m,
      large: large.m,
      reloadOneClinicMs: { p50: round(median(times), 2), max: round(quantile(times, 1), 2), samples: times.length },
      reloadAllMs: round(all.ms, 0),
      reloadAllStatus: all.status ?? '',
    };
    options.log(`  one clinic's reload: p50 ${result.reloadOneClinicMs.p50} ms, max ${result.reloadOneClinicMs.max} ms; whole reload (${options.clinics} clinics): ${result.reloadAllMs} ms (${result.reloadAllStatus})`);
    return result;
  } finally {
    await large.child.stop();
    await large.remove();
  }
}
