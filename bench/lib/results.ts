/** The bench's results (bench/results/*.json) and the targets of issue 7 checked against them. */
import type { MachineInfo } from './machine.js';
import type { VariantSummary } from '../phases/compare.js';
import type { RulesScaleResult } from '../phases/rules-scale.js';
import type { ClinicsScaleResult } from '../phases/clinics-scale.js';
import type { LookupResult } from '../phases/patients-scale.js';
import type { CommandCount } from '../phases/db-commands.js';
import type { SustainedResult } from '../phases/sustained.js';
import type { ProfileSummary } from './cpu-profile.js';
import type { KeptBytes } from './record-size.js';

export interface BenchResults {
  mode: 'quick' | 'full';
  machine: MachineInfo;
  settings: Record<string, unknown>;
  compare?: { variants: VariantSummary[]; ratios: { cOverB: number; cOverA: number; dOverC?: number; infoOverWarn: number; cpuCOverB: number; cpuCOverA: number } };
  profile?: ProfileSummary;
  rulesScale?: RulesScaleResult[];
  clinicsScale?: ClinicsScaleResult;
  patientsScale?: LookupResult[];
  dbCommands?: CommandCount[];
  sustained?: SustainedResult[];
  /** What the embedded store keeps per message, below and at its bound (in-process). */
  storeKeeps?: KeptBytes;
  targets: TargetCheck[];
  elapsedS: number;
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

const yes = (b: boolean): boolean => b;

/** Checks each target of issue 7 that the run measured (null: not measured). */
export function checkTargets(r: Omit<BenchResults, 'targets'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const v = (k: string): VariantSummary | undefined => r.compare?.variants.find((x) => x.key === k);
  const c = v('c');
  if (c && r.compare) {
    out.push({ target: '(c) >= 50% of (b) req/s', measured: `${Math.round(r.compare.ratios.cOverB * 100)}%`, met: yes(r.compare.ratios.cOverB >= 0.5) });
    out.push({ target: '(c) p99 <= 5 ms at 10 connections (at saturation)', measured: `${c.latencyMs.p99} ms`, met: c.latencyMs.p99 <= 5 });
    if (c.paced) {
      out.push({ target: `(c) p99 <= 5 ms at 10 connections (paced at ${c.paced.rate} req/s, half of its maximum)`, measured: `${c.paced.latencyMs.p99} ms (median of rounds: ${c.paced.p99ByRound.join(', ')} ms)`, met: c.paced.latencyMs.p99 <= 5 });
    }
    const bad = c.errors + c.timeouts + c.non2xx;
    out.push({ target: '(c) no errors', measured: `${bad} errors/timeouts/non-2xx in ${c.requests} requests`, met: bad === 0 });
  }
  const sustainedC = r.sustained?.find((s) => s.store === 'memory');
  if (sustainedC) {
    out.push({ target: '(c) p99 <= 5 ms at 10 connections (at 80% of max, sustained run)', measured: `${sustainedC.load.latencyMs.p99} ms`, met: sustainedC.load.latencyMs.p99 <= 5 });
  }
  if (r.rulesScale && r.rulesScale.length > 1) {
    const last = r.rulesScale[r.rulesScale.length - 1] as RulesScaleResult;
    out.push({ target: `${last.rulesPerClinic} rules per clinic cost <= 1.3x of 10`, measured: `${last.costRatioTo10}x`, met: last.costRatioTo10 <= 1.3 });
  }
  if (r.clinicsScale) {
    const l = r.clinicsScale.large;
    out.push({ target: `${l.clinics} clinics start < 3 s`, measured: `${l.spawnToReadyMs} ms from fork to listening (startService ${l.serviceStartMs} ms)`, met: l.spawnToReadyMs < 3000 });
    out.push({ target: `${l.clinics} clinics < 300 MB resident`, measured: `${l.rssMb} MB RSS`, met: l.rssMb < 300 });
    out.push({
      target: "one clinic's reload < 50 ms",
      measured: `p50 ${r.clinicsScale.reloadOneClinicMs.p50} ms, max ${r.clinicsScale.reloadOneClinicMs.max} ms (whole reload of all clinics: ${r.clinicsScale.reloadAllMs} ms)`,
      met: r.clinicsScale.reloadOneClinicMs.max < 50,
    });
  }
  if (r.dbCommands) {
    for (const d of r.dbCommands.filter((x) => x.sender.startsWith('known patient') && ['HELP', 'CONFIRM'].includes(x.message))) {
      out.push({ target: `<= 4 DB commands on the hot path: ${d.message} (${d.sender})`, measured: `${d.hotPath} (${d.commands.join(', ')})`, met: d.hotPath <= 4 });
    }
  }
  for (const s of r.sustained ?? []) {
    const bad = s.load.errors + s.load.timeouts + s.load.non2xx;
    out.push({ target: `sustained ${s.durationS} s paced at ${s.rate} req/s (${s.store}): no errors`, measured: `${bad} in ${s.load.requests} requests`, met: bad === 0 });
    // By design, at its bound the embedded store still keeps opt-outs of new numbers and this window's rate counters.
    const byDesign = s.store === 'memory' ? Math.max(0, r.storeKeeps?.atBound ?? 0) : 0;
    const growth = s.heapGrowthBytesPerRequest;
    out.push({
      target: `sustained (${s.store}): no memory growth beyond warm-up`,
      measured: `heap after GC ${growth === null ? '?' : `${growth >= 0 ? '+' : ''}${growth}`} B/request after warm-up${s.store === 'memory' && r.storeKeeps ? ` (at its bound of ${r.storeKeeps.maxMessages} messages the embedded store keeps ~${r.storeKeeps.atBound} B per message by design: opt-outs, current rate counters; ~${r.storeKeeps.filling} B while filling)` : ''}; RSS ${s.rssGrowthMbAfterWarmup >= 0 ? '+' : ''}${s.rssGrowthMbAfterWarmup} MB`,
      met: growth === null ? null : growth <= byDesign * 1.15 + 64,
    });
  }
  return out;
}
