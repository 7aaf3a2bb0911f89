import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
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

export interface RulesWatcherOptions {
  /** Quiet time after the last change before reloading, ms (editors write a file in steps). */
  debounceMs?: number;
  /** How often file sizes and times are compared too, ms, for file systems where fs.watch misses events (0: never). */
  pollMs?: number;
  /** Called after each reload (tests, latency measurement). */
  onReload?: (result: ReloadResult) => void;
}

export interface RulesWatcher {
  /** Reloads now (SIGHUP); a reload already running is followed by exactly one more. */
  reload(reason: string): Promise<ReloadResult>;
  close(): void;
  /** Resolves once no reload is running. */
  settled(): Promise<void>;
}

/**
 * Watches RULES_DIR (and its clinics/ folder) and the folder of CLINICS_FILE, and
 * reloads after a quiet period. Folders are watched rather than files, so editors that
 * save by writing a new file and renaming it over the old one (vim, IntelliJ, sed -i)
 * and Kubernetes ConfigMap updates (a ..data symlink swap) are all seen. Reloads never
 * overlap. A size/time poll backs fs.watch up where it misses events (network mounts).
 */
export function watchRules(deps: RulesReloadDeps, options: RulesWatcherOptions = {}): RulesWatcher {
  const debounceMs = options.debounceMs ?? 150;
  const pollMs = options.pollMs ?? 5000;
  const rulesDir = resolve(deps.config.rulesDir);
  const clinicsFile = resolve(deps.config.clinicsFile);
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let poller: NodeJS.Timeout | undefined;
  let running: Promise<ReloadResult> | null = null;
  let again = false;
  let closed = false;
  let signature = '';

  const run = (reason: string): Promise<ReloadResult> => {
    if (running) {
      again = true;
      return running;
    }
    deps.logger.debug({ reason }, 'rules reload');
    running = (async (): Promise<ReloadResult> => {
      let result: ReloadResult;
      try {
        result = await reloadRules(deps);
      } catch (err) {
        // Not bad content (that is a finding) but e.g. an unreadable folder: keep what is live.
        const finding = fileFinding(deps.config.rulesDir, `reload failed: ${(err as Error).message}`);
        deps.live.recordFailure([finding], new Date());
        deps.metrics.rulesReloadErrors.inc();
        deps.metrics.rulesReloads.inc({ result: 'refused' });
        deps.logger.error({ err: { code: errorCode(err), msg: (err as Error).message } }, 'rules reload failed');
        result = { status: 'refused', findings: [finding], ms: 0 };
      }
      signature = await fileSignature(rulesDir, clinicsFile);
      refreshWatchers();
      options.onReload?.(result);
      return result;
    })().finally(() => {
      running = null;
      if (again && !closed) {
        again = false;
        void run('changed during reload');
      }
    });
    return running;
  };

  const schedule = (reason: string): void => {
    if (closed) {
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(() => void run(reason), debounceMs);
    timer.unref();
  };

  const watchDir = (dir: string, accept: (name: string | null) => boolean): void => {
    if (watchers.has(dir)) {
      return;
    }
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (accept(name === null ? null : String(name))) {
          schedule(`change in ${dir}`);
        }
      });
      w.on('error', () => {
        w.close();
        watchers.delete(dir);
        schedule(`watch of ${dir} ended`);
      });
      watchers.set(dir, w);
    } catch {
      // Missing folder (rules/clinics not created yet): the next reload or poll tries again.
    }
  };

  const refreshWatchers = (): void => {
    if (closed) {
      return;
    }
    watchDir(rulesDir, () => true);
    watchDir(join(rulesDir, 'clinics'), () => true);
    watchDir(dirname(clinicsFile), (name) => name === null || name === basename(clinicsFile) || name.startsWith('..'));
  };

  refreshWatchers();
  void fileSignature(rulesDir, clinicsFile).then((s) => {
    signature = s;
  });
  if (pollMs > 0) {
    poller = setInterval(() => {
      void fileSignature(rulesDir, clinicsFile).then((s) => {
        if (s !== signature && !running) {
          schedule('files changed (poll)');
        }
      });
    }, pollMs);
    poller.unref();
  }

  return {
    reload: (reason) => {
      clearTimeout(timer);
      return run(reason);
    },
    async settled() {
      while (running) {
        await running.catch(() => undefined);
      }
    },
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poller);
      for (const w of watchers.values()) {
        w.close();
      }
      watchers.clear();
    },
  };
}

/** Sizes and modification times of the watched files: cheap to compare on each poll. */
async function fileSignature(rulesDir: string, clinicsFile: string): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  const files = [clinicsFile, join(rulesDir, 'default.yaml')];
  try {
    for (const name of await readdir(join(rulesDir, 'clinics'))) {
      files.push(join(rulesDir, 'clinics', name));
    }
  } catch {
    // no clinics folder
  }
  const parts = await Promise.all(
    files.sort().map(async (f) => {
      try {
        const s = await stat(f);
        return `${f}:${s.size}:${s.mtimeMs}`;
      } catch {
        return `${f}:-`;
      }
    }),
  );
  return parts.join('|');
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

export interface RulesReloadHandle {
  /** Reloads now, as SIGHUP does. */
  reload(reason: string): Promise<ReloadResult>;
  /** Stops watching and forgets the SIGHUP handler. */
  close(): void;
  /** Resolves once no reload is running (shutdown waits, so a reload's lines never follow its own). */
  settled(): Promise<void>;
}

/**
 * The running service's reload wiring: sets the version gauge for what is live, watches
 * the files when `watch` is on, and reloads on SIGHUP either way.
 * @param signals - where SIGHUP arrives (process)
 */
export function startRulesReload(
  deps: RulesReloadDeps,
  options: RulesWatcherOptions & { watch: boolean; signals?: Pick<NodeJS.Process, 'on' | 'off'> },
): RulesReloadHandle {
  setVersionGauge(deps.metrics, deps.live.snapshot());
  const watcher = options.watch ? watchRules(deps, options) : null;
  let manual: Promise<ReloadResult> | null = null;
  let last: Promise<unknown> = Promise.resolve();
  const reload = (reason: string): Promise<ReloadResult> => {
    if (watcher) {
      last = watcher.reload(reason);
      return last as Promise<ReloadResult>;
    }
    manual ??= reloadRules(deps).finally(() => {
      manual = null;
    });
    last = manual;
    return manual;
  };
  const onSighup = (): void => {
    deps.logger.info('SIGHUP: reloading rules and clinics');
    void reload('SIGHUP');
  };
  options.signals?.on('SIGHUP', onSighup);
  return {
    reload,
    close() {
      options.signals?.off('SIGHUP', onSighup);
      watcher?.close();
    },
    async settled() {
      await Promise.all([last, watcher?.settled()]).catch(() => undefined);
    },
  };
}
