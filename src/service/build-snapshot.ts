import { checkEventEndpoints } from '../config/event-endpoints.js';
import { readClinicsFile, type ClinicsFile, type InvalidClinicEntry } from '../config/clinics-file.js';
import type { Config } from '../config/load-config.js';
import type { Clinic } from '../domain.js';
import { AppError, envFinding, formatFindings, type Finding } from '../errors.js';
import { compileClinicRules, type CompiledRules } from '../rules/compile.js';
import { parseClinicRulesFile, parseDefaultRulesFile, rulesFilePaths } from '../rules/load-rules.js';
import { resolveTokens, type BrokenClinic, type Snapshot } from './live-config.js';

/** Where the clinics and rules are, and what the auth tokens need. */
export type SnapshotSources = Pick<Config, 'clinicsFile' | 'rulesDir' | 'authTokens' | 'signatureValidation'> &
  Partial<Pick<Config, 'nodeEnv'>> & {
    /**
     * false: the events endpoints' secrets are not checked (`rules test` and `rules simulate`
     * send nothing, so they never need delivery secrets). Default true.
     */
    deliverySecrets?: boolean;
  };

/** A snapshot built on reload, and the clinics that kept their last good rules. */
export interface Rebuilt {
  snapshot: Snapshot;
  /** Clinics whose own rules file is invalid: they kept their rules from the last good snapshot. */
  kept: string[];
  /** The errors in those clinics' files. */
  keptFindings: Finding[];
  /**
   * Events endpoints left out of delivery (a secret not set or malformed, http: in
   * production): reported, never a reason to refuse the other clinics' new rules.
   */
  endpointFindings: Finding[];
}

/** A snapshot built at start-up: every valid clinic in it, the broken ones set apart in `snapshot.broken`. */
export interface Tolerant {
  snapshot: Snapshot;
  /** Problems no clinic can be served around (missing auth tokens): the start fails on them. */
  problems: Finding[];
  /** Rules errors that belong to no clinic (rules/default.yaml when there is none): the start fails on them too. */
  rulesProblems: Finding[];
}

/**
 * Reads the clinics file and every clinic's rules, works out the auth tokens, and returns a
 * complete snapshot, or throws CONFIG_INVALID / RULES_INVALID with every finding. Used by
 * `rules test`, `spool replay` and tests, and at start under STRICT_START.
 * @param sources - the files, the default tokens, whether signatures are checked
 * @param env - where per-clinic token variables are read
 */
export async function buildSnapshot(sources: SnapshotSources, env: Record<string, string | undefined>, now: Date = new Date()): Promise<Snapshot> {
  const { snapshot, problems, rulesProblems } = await buildTolerantSnapshot(sources, env, now);
  const broken = snapshot.broken ?? [];
  const entryFindings = broken.filter((b) => b.part === 'entry').flatMap((b) => b.findings);
  if (entryFindings.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid clinics file ${sources.clinicsFile}`, { findings: entryFindings });
  }
  const rulesFindings = unique([...broken.flatMap((b) => b.findings), ...rulesProblems]);
  if (rulesFindings.length > 0) {
    throw rulesInvalid(rulesFindings);
  }
  throwOnProblems(problems);
  return snapshot;
}

/**
 * The start-up snapshot: a clinic whose entry or rules are invalid does not stop the others;
 * it is set apart in `snapshot.broken` with its findings. Throws CONFIG_INVALID only when the
 * clinics file as a whole cannot be used.
 * @param sources - the files, the default tokens, whether signatures are checked
 * @param env - where per-clinic token variables are read
 */
export async function buildTolerantSnapshot(sources: SnapshotSources, env: Record<string, string | undefined>, now: Date = new Date()): Promise<Tolerant> {
  const read = await readClinicsFile(sources.clinicsFile);
  const compiled = await compileAll(sources, read.clinics.clinics, null);
  const broken = [...read.invalid.map(entryBroken), ...compiled.broken];
  const { snapshot, problems, endpointProblems } = assemble(sources, env, now, read.clinics, compiled.rules, read.invalid, broken);
  // With no clinic at all, rules/default.yaml's errors belong to nobody: they stop the start.
  // At start an events endpoint's problem stops it too (docs/events.md), with every other problem.
  return { snapshot, problems: [...problems, ...endpointProblems], rulesProblems: compiled.refused };
}

/**
 * As buildTolerantSnapshot, for a reload: a clinic whose own rules file is invalid keeps its
 * rules from `lastGood` while the others get their changes, and one that has no good rules
 * yet (broken since start, or new) stays or becomes broken. Throws, changing nothing, when
 * the clinics file or rules/default.yaml is invalid for a clinic that is live, when an
 * invalid entry is a live clinic's, or when a token is missing; its findings are every
 * finding of every file at once.
 */
export async function rebuildSnapshot(sources: SnapshotSources, env: Record<string, string | undefined>, lastGood: Snapshot, now: Date): Promise<Rebuilt> {
  const read = await readClinicsFile(sources.clinicsFile);
  const compiled = await compileAll(sources, read.clinics.clinics, lastGood);
  const liveEntries = read.invalid.filter((e) => isLiveClinicEntry(e, lastGood));
  const refusals = [...liveEntries.flatMap((e) => e.findings), ...compiled.refused];
  if (refusals.length > 0) {
    // Everything the files hold is reported, not only what made the reload fail.
    const all = unique([...refusals, ...read.invalid.flatMap((e) => e.findings), ...compiled.broken.flatMap((b) => b.findings), ...compiled.keptFindings]);
    throw liveEntries.length > 0 ? new AppError('CONFIG_INVALID', `invalid clinics file ${sources.clinicsFile}`, { findings: all }) : rulesInvalid(all);
  }
  const broken = [...read.invalid.map(entryBroken), ...compiled.broken];
  const { snapshot, problems, endpointProblems } = assemble(sources, env, now, read.clinics, compiled.rules, read.invalid, broken);
  throwOnProblems(problems);
  // docs/events.md: an endpoint whose secret is missing is left out until it is set (resolveEndpoints skips it).
  return { snapshot, kept: compiled.kept, keptFindings: compiled.keptFindings, endpointFindings: endpointProblems };
}

function assemble(
  sources: SnapshotSources,
  env: Record<string, string | undefined>,
  now: Date,
  clinics: ClinicsFile,
  rules: Map<string, CompiledRules>,
  invalid: readonly InvalidClinicEntry[],
  broken: BrokenClinic[],
): { snapshot: Snapshot; problems: Finding[]; endpointProblems: Finding[] } {
  const { tokens, byAccount, missing, all } = resolveTokens(clinics.clinics, sources.authTokens, env);
  // A broken entry's token still checks the signatures of its messages, so they are recorded.
  const { byAccount: brokenByAccount, all: brokenTokens } = resolveTokens(invalid.map(asTokenClinic), sources.authTokens, env);
  for (const [account, list] of brokenByAccount) {
    byAccount.set(account, [...new Set([...(byAccount.get(account) ?? []), ...list])]);
  }
  // One line a variable, however many clinics need it.
  const problems = sources.signatureValidation
    ? [...missing].map(([variable, ids]) =>
        envFinding(`${variable} is not set: no auth token to check the signatures of clinic${ids.length === 1 ? '' : 's'} ${ids.join(', ')}`),
      )
    : [];
  // Events endpoints: secrets set and well-formed, https in production (docs/events.md).
  const endpointProblems = sources.deliverySecrets === false ? [] : checkEventEndpoints(clinics.clinics, env, sources.nodeEnv === 'production');
  return {
    endpointProblems,
    snapshot: {
      clinics,
      rules,
      tokens,
      tokensByAccount: byAccount,
      allTokens: [...new Set([...all, ...brokenTokens])],
      loadedAt: now,
      ...(broken.length > 0 ? { broken } : {}),
    },
    problems,
  };
}

interface Compiled {
  rules: Map<string, CompiledRules>;
  kept: string[];
  keptFindings: Finding[];
  broken: BrokenClinic[];
  /** Errors that touch a live clinic beyond its own file (rules/default.yaml): the reload is refused. */
  refused: Finding[];
}

/**
 * Every clinic's rules. A clinic whose rules do not compile keeps its last good rules when
 * only its own file is at fault; with no last good rules it is broken; an error elsewhere
 * (rules/default.yaml) for a clinic that has last good rules refuses the reload.
 */
async function compileAll(sources: SnapshotSources, clinics: readonly Clinic[], lastGood: Snapshot | null): Promise<Compiled> {
  const defaults = await parseDefaultRulesFile(sources.rulesDir);
  const out: Compiled = { rules: new Map(), kept: [], keptFindings: [], broken: [], refused: [] };
  for (const clinic of clinics) {
    const result = compileClinicRules(defaults, await parseClinicRulesFile(sources.rulesDir, clinic.id), clinic);
    const errors = result.findings.filter(isError);
    if (result.rules && errors.length === 0) {
      out.rules.set(clinic.id, result.rules);
      continue;
    }
    const last = lastGood?.rules.get(clinic.id);
    if (!last) {
      out.broken.push({ name: clinic.id, clinicId: clinic.id, phoneNumbers: clinic.phoneNumbers, part: 'rules', findings: errors });
      continue;
    }
    const ownFile = rulesFilePaths(sources.rulesDir, clinic.id).clinicFile;
    if (errors.every((f) => f.file === ownFile)) {
      out.rules.set(clinic.id, last);
      out.kept.push(clinic.id);
      out.keptFindings.push(...errors);
    } else {
      out.refused.push(...errors);
    }
  }
  out.refused = unique(out.refused);
  if (clinics.length === 0) {
    out.refused.push(...defaults.findings.filter(isError));
  }
  return out;
}

/** An invalid entry that is a live clinic's (its id, or one of its numbers): a reload keeps the last good file instead. */
function isLiveClinicEntry(entry: InvalidClinicEntry, lastGood: Snapshot): boolean {
  const live = (id: string): boolean => lastGood.rules.has(id);
  return (entry.id !== null && live(entry.id)) || entry.phoneNumbers.some((n) => {
    const owner = lastGood.clinics.byNumber.get(n);
    return owner !== undefined && live(owner.id);
  });
}

function entryBroken(entry: InvalidClinicEntry): BrokenClinic {
  return { name: entry.id ?? `clinics[${entry.index}]`, clinicId: entry.id, phoneNumbers: entry.phoneNumbers, part: 'entry', findings: entry.findings };
}

/** What resolveTokens reads of a clinic, from an invalid entry. */
function asTokenClinic(entry: InvalidClinicEntry): Clinic {
  return {
    id: entry.id ?? `clinics[${entry.index}]`,
    name: '',
    phoneNumbers: entry.phoneNumbers,
    timezone: 'UTC',
    languages: [],
    defaultRegion: 'US',
    rateLimitPerMinute: 1,
    autoReply: false,
    ...(entry.authTokenEnv ? { authTokenEnv: entry.authTokenEnv } : {}),
    ...(entry.accountSid ? { accountSid: entry.accountSid } : {}),
  };
}

function throwOnProblems(problems: Finding[]): void {
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', 'no auth token for signature checks', { findings: problems });
  }
}

function isError(f: Finding): boolean {
  return f.severity !== 'warning';
}

/** Each finding once (two clinics compiled over one broken rules/default.yaml report it twice). */
function unique(findings: readonly Finding[]): Finding[] {
  const seen = new Map<string, Finding>();
  for (const f of findings) {
    seen.set(`${f.file}:${f.line}:${f.col}:${f.message}`, f);
  }
  return [...seen.values()].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

function rulesInvalid(findings: Finding[]): AppError {
  return new AppError('RULES_INVALID', `invalid rules (${findings.length} error${findings.length === 1 ? '' : 's'}):\n${formatFindings(findings)}`, { findings });
}
