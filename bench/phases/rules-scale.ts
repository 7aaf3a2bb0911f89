/**
 * The full service with more rules per clinic (10, 50, 200), the same traffic for each:
 * the generated rules answer keywords of their own that the traffic does not send, so
 * they are the non-matching rules the keyword index should skip. Ratios are to 10 rules.
 */
import { runRounds, type RoundsSettings } from '../lib/rounds.js';
import { startServer, type ServerChild } from '../lib/servers.js';
import { createWorld, mixFor, serviceEnv, type World } from '../lib/world.js';

export interface RulesScaleRow {
  rulesPerClinic: number;
  rps: number;
  p99Ms: number;
  errors: number;
  /** rps(this) / rps(10 rules). */
  throughputRatio: number;
  /** Server CPU per request, this over 10 rules (the steadier cost ratio on a shared machine). */
  cpuRatio: number;
}

export async function runRulesScale(root: string, counts: readonly number[], world: { clinics: number; patientsPerClinic: number }, settings: RoundsSettings): Promise<RulesScaleRow[]> {
  const worlds: World[] = [];
  const servers: ServerChild[] = [];
  try {
    const contenders = [];
    for (const n of counts) {
      const w = await createWorld({ ...world, rulesPerClinic: n });
      worlds.push(w);
      const server = await startServer(root, 'full-service', serviceEnv(w));
      servers.push(server);
      // The same traffic for every variant: none of the generated keywords in it.
      contenders.push({ name: `${n} rules/clinic`, server, mix: mixFor({ ...w, extraKeywords: [] }, 500) });
    }
    const results = await runRounds(contenders, settings);
    const base = results[0]?.rps ?? NaN;
    const baseCpu = results[0]?.cpuMicrosPerRequest ?? NaN;
    return results.map((r, i) => ({
      rulesPerClinic: counts[i] as number,
      rps: r.rps,
      p99Ms: r.latencyMs.p99,
      errors: r.errors,
      throughputRatio: Math.round((r.rps / base) * 100) / 100,
      cpuRatio: Math.round((r.cpuMicrosPerRequest / baseCpu) * 100) / 100,
    }));
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(worlds.map((w) => w.remove()));
  }
}
