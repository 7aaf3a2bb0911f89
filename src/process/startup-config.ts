import { readConfig, type Config } from '../config/load-config.js';
import { AppError, envFinding, findingsOf, isAppError, type Finding } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseDefaultRulesFile } from '../rules/load-rules.js';
import { buildTolerantSnapshot } from '../service/build-snapshot.js';
import { sendingWarnings } from '../service/sending-check.js';
import type { BrokenClinic, Snapshot } from '../service/live-config.js';

export interface StartupConfig<T> {
  config: Readonly<Config>;
  snapshot: Snapshot;
  /** What `more` loaded (the staff API keys file). */
  more: T;
  /** What does not stop the start but limits it (a clinic that cannot send staff replies): log them (logStartupWarnings). */
  warnings: Finding[];
}

/**
 * Everything the start needs from the environment and the files, checked in one go: the
 * environment variables, the clinics file, the rules, and what `more` loads (the keys file;
 * main.ts passes it because service/ sits below auth/). Every problem is collected and
 * thrown once, as one CONFIG_INVALID whose findings list each problem once, with
 * file:line:col where there is a file. A clinic whose entry or rules are invalid is not a
 * problem unless STRICT_START is on: it is set apart in `snapshot.broken`.
 * @param env - the environment (process.env)
 * @param more - loads a further file from the config; throws an AppError with findings when it is invalid
 */
export async function loadStartupConfig<T>(env: Record<string, string | undefined>, more: (config: Readonly<Config>) => Promise<T>): Promise<StartupConfig<T>> {
  const { config, problems } = readConfig(env);
  const findings: Finding[] = problems.map(envFinding);
  let brokenFindings: Finding[] = [];
  const snapshot = await collect(findings, config.clinicsFile, async () => {
    const built = await buildTolerantSnapshot(config, env);
    findings.push(...built.problems, ...built.rulesProblems);
    brokenFindings = (built.snapshot.broken ?? []).flatMap((b) => b.findings);
    return built.snapshot;
  });
  if (snapshot === undefined) {
    // The clinics file is unusable, so no clinic's rules were compiled: rules/default.yaml is
    // still checked on its own, so its errors are not left for the next start.
    findings.push(...(await parseDefaultRulesFile(config.rulesDir)).findings.filter((f) => f.severity !== 'warning'));
  }
  const loaded = await collect(findings, config.clinicsFile, () => more(config));
  // A broken clinic stops the start only under STRICT_START; when the start fails anyway, its
  // findings are listed with the rest, so nothing is left for the next attempt to reveal.
  const fatal = findings.length > 0 || snapshot === undefined || loaded === undefined || (config.strictStart && brokenFindings.length > 0);
  const all = unique([...findings, ...brokenFindings]);
  // Warnings are listed with the problems when the start fails, and logged when it goes on.
  const warnings = snapshot === undefined ? [] : sendingWarnings(config, snapshot);
  if (fatal || snapshot === undefined || loaded === undefined) {
    throw new AppError('CONFIG_INVALID', `invalid configuration (${all.length} problem${all.length === 1 ? '' : 's'})`, { findings: [...all, ...warnings] });
  }
  return { config, snapshot, more: loaded, warnings };
}

/**
 * Loads several files at once and reports every one's problems together (one CONFIG_INVALID
 * with all their findings), as start-up does for the clinics and rules.
 */
export async function loadAll<T extends readonly unknown[]>(loads: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(loads);
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failed.length > 0) {
    if (failed.every(isAppError)) {
      throw new AppError('CONFIG_INVALID', 'invalid configuration files', { findings: failed.flatMap((e) => (e as AppError).findings) });
    }
    throw failed.find((e) => !isAppError(e));
  }
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Runs `load`; an AppError's findings go to `findings` and the result is undefined. */
async function collect<T>(findings: Finding[], file: string, load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if (!isAppError(err)) {
      throw err;
    }
    findings.push(...findingsOf(err, file));
    return undefined;
  }
}

/**
 * Each problem once: a rules/default.yaml error is found once per clinic compiled over it.
 * Environment problems first, then files in name order, each by line and column.
 */
function unique(findings: readonly Finding[]): Finding[] {
  const seen = new Map<string, Finding>();
  for (const f of findings) {
    seen.set(`${f.file}:${f.line}:${f.col}:${f.message}`, f);
  }
  const env = [...seen.values()].filter((f) => f.line === 0);
  const files = [...seen.values()].filter((f) => f.line !== 0).sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return [...env, ...files];
}

/**
 * Logs the start-up warnings, one line each, as the start-up problems are printed.
 * @param logger - the service's logger
 * @param warnings - StartupConfig.warnings
 */
export function logStartupWarnings(logger: Logger, warnings: readonly Finding[]): void {
  for (const w of warnings) {
    logger.warn({ file: w.file, reason: w.message }, `${w.file}: warning: ${w.message}`);
  }
}

/**
 * Logs the clinics that start broken: one line naming them, then one line a finding (each
 * once), so an operator sees what to fix. The `sms_clinic_config_broken` gauge and /readyz
 * say the same.
 * @param logger - the service's logger
 * @param broken - snapshot.broken
 */
export function logBrokenClinics(logger: Logger, broken: readonly BrokenClinic[]): void {
  if (broken.length === 0) {
    return;
  }
  logger.error(
    { clinics: broken.map((b) => b.name) },
    `clinic${broken.length === 1 ? '' : 's'} not served, configuration invalid: ${broken.map((b) => b.name).join(', ')}; their messages are recorded and answered with the system-error text (STRICT_START=1 stops the start instead)`,
  );
  for (const f of unique(broken.flatMap((b) => b.findings))) {
    logger.error({ file: f.file, line: f.line, col: f.col, reason: f.message }, `${f.file}:${f.line}:${f.col}: ${f.message}`);
  }
}
