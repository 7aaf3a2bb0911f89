import { loadClinicsFile, type ClinicsFile } from '../config/clinics-file.js';
import type { Config } from '../config/load-config.js';
import { AppError, fileFinding, formatFindings, type Finding } from '../errors.js';
import { checkEventEndpoints } from '../config/event-endpoints.js';
import { compileClinicRules, type CompiledRules } from '../rules/compile.js';
import { loadRules, parseClinicRulesFile, parseDefaultRulesFile, rulesFilePaths } from '../rules/load-rules.js';
import { resolveTokens, type Snapshot } from './live-config.js';

/** Where the clinics and rules are, and what the auth tokens need. */
export type SnapshotSources = Pick<Config, 'clinicsFile' | 'rulesDir' | 'authTokens' | 'signatureValidation'> & Partial<Pick<Config, 'nodeEnv'>>;

/** A snapshot built on reload, and the clinics that kept their last good rules. */
export interface Rebuilt {
  snapshot: Snapshot;
  /** Clinics whose own rules file is invalid: they kept their rules from the last good snapshot. */
  kept: string[];
  /** The errors in those clinics' files. */
  keptFindings: Finding[];
}

/**
 * Reads the clinics file and every clinic's rules, works out the auth tokens, and returns a
 * complete snapshot, or throws CONFIG_INVALID / RULES_INVALID with every finding. Used at
 * start, by `rules test`, and, through rebuildSnapshot, on reload.
 * @param sources - the files, the default tokens, whether signatures are checked
 * @param env - where per-clinic token variables are read
 */
export async function buildSnapshot(sources: SnapshotSources, env: Record<string, string | undefined>, now: Date = new Date()): Promise<Snapshot> {
  return (await assemble(sources, env, now, null)).snapshot;
}

/**
 * As buildSnapshot, for a reload: a clinic whose own rules file is invalid keeps its rules
 * from `lastGood` while the others get their changes. An invalid clinics file or
 * rules/default.yaml, or a new clinic without valid rules, throws as buildSnapshot does.
 */
export async function rebuildSnapshot(sources: SnapshotSources, env: Record<string, string | undefined>, lastGood: Snapshot, now: Date): Promise<Rebuilt> {
  return assemble(sources, env, now, lastGood);
}

async function assemble(sources: SnapshotSources, env: Record<string, string | undefined>, now: Date, lastGood: Snapshot | null): Promise<Rebuilt> {
  const clinics = await loadClinicsFile(sources.clinicsFile);
  const { rules, kept, keptFindings } = lastGood
    ? await compileKeepingLastGood(sources, clinics, lastGood)
    : { rules: await loadRules({ rulesDir: sources.rulesDir, clinics: clinics.clinics }), kept: [], keptFindings: [] };
  const { tokens, byAccount, missing, all } = resolveTokens(clinics.clinics, sources.authTokens, env);
  if (sources.signatureValidation && missing.length > 0) {
    throw new AppError('CONFIG_INVALID', `no auth token for signature checks:\n  ${missing.join('\n  ')}`, {
      findings: missing.map((m) => fileFinding(sources.clinicsFile, m)),
    });
  }
  // Events endpoints: secrets set and well-formed, https in production (docs/events.md).
  const eventFindings = checkEventEndpoints(clinics.clinics, env, sources.nodeEnv === 'production');
  if (eventFindings.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid events endpoints in ${sources.clinicsFile}:\n${formatFindings(eventFindings)}`, { findings: eventFindings });
  }
  return { snapshot: { clinics, rules, tokens, tokensByAccount: byAccount, allTokens: all, loadedAt: now }, kept, keptFindings };
}

/** Every clinic's rules, those whose own file is invalid taken from `lastGood`. */
async function compileKeepingLastGood(
  sources: SnapshotSources,
  clinics: ClinicsFile,
  lastGood: Snapshot,
): Promise<{ rules: Map<string, CompiledRules>; kept: string[]; keptFindings: Finding[] }> {
  const defaults = await parseDefaultRulesFile(sources.rulesDir);
  if (defaults.findings.some(isError)) {
    throw rulesInvalid(defaults.findings.filter(isError));
  }
  const rules = new Map<string, CompiledRules>();
  const kept: string[] = [];
  const keptFindings: Finding[] = [];
  for (const clinic of clinics.clinics) {
    const result = compileClinicRules(defaults, await parseClinicRulesFile(sources.rulesDir, clinic.id), clinic);
    const errors = result.findings.filter(isError);
    if (result.rules && errors.length === 0) {
      rules.set(clinic.id, result.rules);
      continue;
    }
    const ownFile = rulesFilePaths(sources.rulesDir, clinic.id).clinicFile;
    if (!errors.every((f) => f.file === ownFile)) {
      // The error is in rules/default.yaml as this clinic sees it: everything stays as it was.
      throw rulesInvalid(errors);
    }
    const last = lastGood.rules.get(clinic.id);
    if (!last) {
      throw rulesInvalid([...errors, fileFinding(sources.clinicsFile, `clinic "${clinic.id}" has no valid rules yet, so the clinics file change waits`)]);
    }
    rules.set(clinic.id, last);
    kept.push(clinic.id);
    keptFindings.push(...errors);
  }
  return { rules, kept, keptFindings };
}

function isError(f: Finding): boolean {
  return f.severity !== 'warning';
}

function rulesInvalid(findings: Finding[]): AppError {
  return new AppError('RULES_INVALID', `invalid rules (${findings.length} error${findings.length === 1 ? '' : 's'}):\n${formatFindings(findings)}`, { findings });
}
