/** A CPU profile of the full service (embedded store) under the usual load, after warm-up (V8 profiler in the server child). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeProfile, type ProfileSummary } from '../lib/cpu-profile.js';
import { runLoad } from '../lib/load.js';
import { serviceEnv } from '../lib/bench-env.js';
import { startServerChild, type ServerRuntime } from '../lib/server-child.js';
import type { World } from '../lib/world.js';
import { mixFor } from './compare.js';

export async function runProfile(options: { runtime: ServerRuntime; world: World; connections: number; durationS: number; root: string; log: (l: string) => void }): Promise<ProfileSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'clinic-sms-cpuprof-'));
  try {
    const child = await startServerChild('full-service', { runtime: options.runtime, env: serviceEnv(options.world), logFile: join(options.world.dir, 'profile.log') });
    const mix = mixFor(options.world, 77);
    // Warm-up first (JIT), then only the measured load is profiled (the V8 profiler, as node --cpu-prof uses, started and stopped in the child).
    await runLoad(child.port, mix, { connections: options.connections, durationS: 3, prefill: 0 });
    const file = join(dir, 'full-service.cpuprofile');
    await child.command('cpu-profile-start');
    const res = await runLoad(child.port, mix, { connections: options.connections, durationS: options.durationS, prefill: 20_000 });
    await child.command('cpu-profile-stop', { file });
    await child.stop();
    const summary = await summarizeProfile(file, options.root, 25, options.runtime.kind === 'compiled' ? options.runtime.outDir : null);
    options.log(`  profiled ${Math.round(res.rps)} req/s; top self time: ${summary.top.slice(0, 6).map((f) => `${f.name} ${f.selfPct}%`).join(', ')}`);
    return summary;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
