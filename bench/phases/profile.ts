/** A CPU profile of the full service (embedded store) under the usual load: node --cpu-prof on the server child. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mainThreadProfile, summarizeProfile, type ProfileSummary } from '../lib/cpu-profile.js';
import { runLoad } from '../lib/load.js';
import { serviceEnv } from '../lib/bench-env.js';
import { startServerChild } from '../lib/server-child.js';
import type { World } from '../lib/world.js';
import { mixFor } from './compare.js';

export async function runProfile(options: { world: World; connections: number; durationS: number; root: string; log: (l: string) => void }): Promise<ProfileSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'clinic-sms-cpuprof-'));
  try {
    const child = await startServerChild('full-service', {
      env: serviceEnv(options.world),
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      logFile: join(options.world.dir, 'profile.log'),
    });
    const mix = mixFor(options.world, 77);
    // Warm-up first, then the profiled load; start-up is in the profile too, but small next to the load.
    await runLoad(child.port, mix, { connections: options.connections, durationS: 2, prefill: 0 });
    const res = await runLoad(child.port, mix, { connections: options.connections, durationS: options.durationS, prefill: 20_000 });
    await child.stop();
    const file = await mainThreadProfile(dir);
    if (!file) {
      throw new Error('no CPU profile written');
    }
    const summary = await summarizeProfile(file, options.root, 25);
    options.log(`  profiled ${Math.round(res.rps)} req/s; top self time: ${summary.top.slice(0, 6).map((f) => `${f.name} ${f.selfPct}%`).join(', ')}`);
    return summary;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
