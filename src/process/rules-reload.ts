import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { filesIn, folderOf, type WatchedSource } from '../config/file-watch.js';
import type { Config } from '../config/load-config.js';
import { errorCode, fileFinding, findingsOf, isAppError, type Finding } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { CompiledRules } from '../rules/compile.js';
import { rebuildSnapshot, type Rebuilt } from '../service/build-snapshot.js';
import type { LiveConfig, Snapshot } from '../service/live-config.js';

export type ReloadResult =
  /** Every clinic got its new rules. */
  | { status: 'ok'; changed: string[]; broken?: string[]; endpoints?: Finding[]; ms: number }
  /** Some clinics kept their last good rules because their own file is invalid; the others got their changes. */
  | { status: 'partial'; changed: string[]; kept: string[]; broken?: string[]; endpoints?: Finding[]; findings: Finding[]; ms: number }
  /** Nothing changed: the clinics file or rules/default.yaml is invalid (or a new clinic has no valid rules). */
  | { status: 'refused'; findings: Finding[]; ms: number };

export interface RulesReloadDeps {
  config: Readonly<Config>;
  /** Where per-clinic token variables are read. */
  env: Record<string, string | undefined>;
  live: LiveConfig;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
}

/**
 * Builds the next snapshot from the files on disk, per clinic: a clinic whose own rules
 * file is invalid keeps its last good rules while the others get their changes; an
 * invalid clinics file or rules/default.yaml (or a new clinic without valid rules)
 * changes nothing. Swaps the result in whole: a request holds the snapshot it started
 * with, so no request ever sees half a reload.
 * @returns what happened; never throws for bad file content
 */
export async function reloadRules(deps: RulesReloadDeps): Promise<ReloadResult> {
  const started = performance.now();
  const now = (deps.clock ?? ((): Date => new Date()))();
  const ms = (): number => Math.round((performance.now() - started) * 100) / 100;
  const current = deps.live.snapshot();
  const refuse = (findings: Finding[]): ReloadResult => {
    deps.live.recordFailure(findings, now);
    deps.metrics.rulesReloads.inc({ result: 'refused' });
    deps.metrics.rulesReloadErrors.inc();
    logFindings(deps.logger, findings, 'rules reload refused: the last good rules stay live');
    return { status: 'refused', findings, ms: ms() };
  };

  let rebuilt: Rebuilt;
  try {
    rebuilt = await rebuildSnapshot(deps.config, deps.env, current, now);
  } catch (err) {
    if (!isAppError(err)) {
      throw err;
    }
    return refuse(findingsOf(err, deps.config.clinicsFile));
  }
  const { kept, keptFindings: clinicFindings, endpointFindings } = rebuilt;
  // An events endpoint with a missing secret is left out of delivery and reported; the rest reloads (docs/events.md).
  const endpoints = endpointFindings.length > 0 ? { endpoints: endpointFindings } : {};
  if (endpointFindings.length > 0) {
    logFindings(deps.logger, endpointFindings, 'rules reload: events endpoints left out until fixed (the rest reloaded)', 'warn');
  }
  const rules = rebuilt.snapshot.rules;
  const changed = [...rules]
    .filter(([id, r]) => current.rules.get(id)?.version !== r.version)
    .map(([id]) => id)
    .concat([...current.rules.keys()].filter((id) => !rules.has(id)));
  // rulesLoadedAt (/readyz) moves only when something loaded: a reload that finds the same
  // rules, clinics and broken clinics keeps the time of the last real load.
  const sameAsLive = changed.length === 0 && sameClinics(current, rebuilt.snapshot) && brokenKey(current) === brokenKey(rebuilt.snapshot);
  const next = sameAsLive ? { ...rebuilt.snapshot, loadedAt: current.loadedAt } : rebuilt.snapshot;
  const recoveredBy = recoveredClinics(current, deps.live, next, kept, deps.config.rulesDir);
  const recovered = [...recoveredBy.liveAgain, ...recoveredBy.nowLive, ...recoveredBy.fixed].sort();
  // Clinics whose entry in the clinics file changed (business hours, closures, ...): a reload too,
  // though their compiled rules are the same version.
  const clinicsChanged = changedClinicEntries(current, next);
  deps.live.swap(next);
  setVersionGauge(deps.metrics, next);
  const broken = (next.broken ?? []).map((b) => b.name);
  if (brokenKey(current) !== brokenKey(next)) {
    logBroken(deps.logger, next);
  }
  const loaded = (extra: Record<string, unknown>): void => {
    if (recovered.length > 0) {
      // One line says the failure is over, even when the fix restored the very rules that were live.
      deps.logger.info({ clinics: recovered, ...recoveredBy, changed, versions: versionsOf(rules), ...extra }, recoveredMessage(recoveredBy));
    } else if (changed.length > 0 || clinicsChanged.length > 0) {
      deps.logger.info(
        { changed, ...(clinicsChanged.length > 0 ? { clinicsChanged } : {}), versions: versionsOf(rules), ...extra },
        kept.length > 0 ? 'rules reloaded for the other clinics' : 'rules reloaded',
      );
    } else if (sameAsLive) {
      deps.logger.info({ changed, ...extra }, 'rules reload: nothing changed');
    }
  };
  if (kept.length > 0) {
    deps.live.recordFailure(clinicFindings, now, kept);
    deps.metrics.rulesReloads.inc({ result: 'partial' });
    deps.metrics.rulesReloadErrors.inc();
    logFindings(deps.logger, clinicFindings, `rules reload: clinic${kept.length === 1 ? '' : 's'} ${kept.join(', ')} kept the last good rules`);
    loaded({});
    return { status: 'partial', changed, kept, broken, ...endpoints, findings: clinicFindings, ms: ms() };
  }
  deps.metrics.rulesReloads.inc({ result: 'ok' });
  loaded({ ms: ms() });
  return { status: 'ok', changed, broken, ...endpoints, ms: ms() };
}

/** Clinics a reload brings back, by what they went through. */
interface Recovered {
  /** Not served before (a broken entry or rules), served before that, served now. */
  liveAgain: string[];
  /** Not served before and never served since the start, served now. */
  nowLive: string[];
  /** Their files were invalid, but their last good rules stayed live (they never went down); their files load now. */
  fixed: string[];
}

/**
 * What a reload brings back: clinics that were not served (broken) and are now, and clinics
 * whose own files were invalid while their last good rules stayed live. A reload refused whole
 * held back the clinics its findings name: a clinic's own rules file names that clinic, any
 * other file (rules/default.yaml, the clinics file) every clinic.
 */
function recoveredClinics(current: Snapshot, live: LiveConfig, next: Snapshot, kept: readonly string[], rulesDir: string): Recovered {
  const failure = live.lastFailure();
  const broken = new Set((current.broken ?? []).map((b) => b.clinicId).filter((id): id is string => id !== null));
  const heldBack = new Set(failure ? (failure.clinics ?? clinicsNamedBy(failure.findings, current, rulesDir)) : []);
  const out: Recovered = { liveAgain: [], nowLive: [], fixed: [] };
  for (const id of [...next.rules.keys()].sort()) {
    if (kept.includes(id)) {
      continue;
    }
    if (broken.has(id)) {
      (live.wasServed(id) ? out.liveAgain : out.nowLive).push(id);
    } else if (heldBack.has(id) && current.rules.has(id)) {
      out.fixed.push(id);
    }
  }
  return out;
}

/** The one line a reload that brings clinics back logs. */
function recoveredMessage(r: Recovered): string {
  const parts = [
    ...(r.liveAgain.length > 0 ? [`live again for ${r.liveAgain.join(', ')}`] : []),
    ...(r.nowLive.length > 0 ? [`now live for ${r.nowLive.join(', ')}`] : []),
    ...(r.fixed.length > 0 ? [`fixed for ${r.fixed.join(', ')} (the last good rules had stayed live)`] : []),
  ];
  return `rules reloaded: ${parts.join('; ')}`;
}

/** The clinics a refused reload's findings concern: rules/clinics/<id>.yaml names <id>; any other file, every live clinic. */
function clinicsNamedBy(findings: readonly Finding[], current: Snapshot, rulesDir: string): string[] {
  const clinicsDir = resolve(rulesDir, 'clinics');
  const named = new Set<string>();
  for (const f of findings) {
    if (resolve(dirname(f.file)) === clinicsDir && f.file.endsWith('.yaml')) {
      named.add(basename(f.file, '.yaml'));
    } else {
      return [...current.rules.keys()];
    }
  }
  return [...named];
}

/** The clinics whose entry in the clinics file differs between the snapshots (added ones included). */
function changedClinicEntries(a: Snapshot, b: Snapshot): string[] {
  return b.clinics.clinics.filter((c) => JSON.stringify(a.clinics.byId.get(c.id)) !== JSON.stringify(c)).map((c) => c.id);
}

/** True when both snapshots have the same clinic entries. */
function sameClinics(a: Snapshot, b: Snapshot): boolean {
  return JSON.stringify(a.clinics.clinics) === JSON.stringify(b.clinics.clinics);
}

/** The broken clinics and their findings, to tell whether they changed. */
function brokenKey(snapshot: Snapshot): string {
  return JSON.stringify((snapshot.broken ?? []).map((b) => [b.name, b.part, b.findings]));
}

/** The clinics a reload leaves broken, and why (or that none is left). */
function logBroken(logger: Logger, snapshot: Snapshot): void {
  const broken = snapshot.broken ?? [];
  if (broken.length === 0) {
    return;
  }
  const findings = [...new Map(broken.flatMap((b) => b.findings).map((f) => [`${f.file}:${f.line}:${f.col}:${f.message}`, f])).values()];
  logFindings(logger, findings, `rules reload: clinic${broken.length === 1 ? '' : 's'} ${broken.map((b) => b.name).join(', ')} not served, configuration invalid`);
}

/**
 * Sets rules_loaded_version{clinic, version} to 1 for the live version of each clinic and
 * sms_clinic_config_broken{clinic} to 1 for each broken clinic, and forgets the old ones.
 */
export function setVersionGauge(metrics: Metrics, snapshot: Snapshot): void {
  metrics.rulesVersion.reset();
  for (const [clinic, compiled] of snapshot.rules) {
    metrics.rulesVersion.set({ clinic, version: compiled.version }, 1);
  }
  metrics.clinicConfigBroken.reset();
  for (const broken of snapshot.broken ?? []) {
    metrics.clinicConfigBroken.set({ clinic: broken.name }, 1);
  }
}

/**
 * RULES_DIR (and its clinics/ folder) and CLINICS_FILE as a source of the one file watcher
 * (config/file-watch.ts): it reloads them on change and on SIGHUP, one reload at a time.
 * Sets the version gauge for what is live now.
 * @param onReload - called after each reload (tests, latency measurement)
 */
export function rulesFiles(deps: RulesReloadDeps, onReload?: (result: ReloadResult) => void): WatchedSource<ReloadResult> {
  setVersionGauge(deps.metrics, deps.live.snapshot());
  const rulesDir = resolve(deps.config.rulesDir);
  const clinicsFile = resolve(deps.config.clinicsFile);
  return {
    name: 'rules and clinics',
    folders: () => [
      { dir: rulesDir, accept: () => true },
      { dir: join(rulesDir, 'clinics'), accept: () => true },
      folderOf(clinicsFile),
    ],
    files: async () => [clinicsFile, join(rulesDir, 'default.yaml'), ...(await filesIn(join(rulesDir, 'clinics')))],
    reload: async () => {
      try {
        return await reloadRules(deps);
      } catch (err) {
        // Not bad content (that is a finding) but e.g. an unreadable folder: keep what is live.
        const finding = fileFinding(deps.config.rulesDir, `reload failed: ${(err as Error).message}`);
        deps.live.recordFailure([finding], new Date());
        deps.metrics.rulesReloadErrors.inc();
        deps.metrics.rulesReloads.inc({ result: 'refused' });
        deps.logger.error({ err: { code: errorCode(err), msg: (err as Error).message } }, 'rules reload failed');
        return { status: 'refused', findings: [finding], ms: 0 };
      }
    },
    ...(onReload ? { onReload } : {}),
  };
}

function versionsOf(rules: ReadonlyMap<string, CompiledRules>): Record<string, string> {
  return Object.fromEntries([...rules].map(([id, r]) => [id, r.version]));
}

/** One log line a finding: where and why. Rules files are configuration: no patient data in them. */
function logFindings(logger: Logger, findings: readonly Finding[], msg: string, level: 'error' | 'warn' = 'error'): void {
  logger[level]({ findings: findings.length }, msg);
  for (const f of findings) {
    logger[level]({ file: f.file, line: f.line, col: f.col, reason: f.message }, `${f.file}:${f.line}:${f.col}: ${f.message}`);
  }
}

