import { readdir } from 'node:fs/promises';
import { REPLIES_TO_OPTED_OUT } from '../../actions/index.js';
import { basename, extname, join } from 'node:path';
import { loadClinicsFile, type ClinicsFile } from '../../config/clinics-file.js';
import { errorCode, fileFinding, findingsOf, isAppError, type Finding } from '../../errors.js';
import { compileClinicRules } from '../../rules/compile.js';
import { parseClinicRulesFile, parseDefaultRulesFile } from '../../rules/load-rules.js';
import type { ParsedRulesFile } from '../../rules/rules-file.js';
import { carrierWordWarnings } from './carrier-words.js';
import { isAccepted, type CheckWarning, type ClinicCheckContext } from './check-context.js';
import { pastClosureWarnings } from './past-closures.js';
import { replyLengthWarnings } from './reply-length.js';
import { spanishWarnings } from './spanish-keywords.js';
import { unknownNumberShadowWarnings } from './unknown-number-shadow.js';
import { unreachableRuleWarnings } from './unreachable-rules.js';

export interface CheckOptions {
  /** The rules folder (RULES_DIR). */
  rulesDir: string;
  /** The clinics file (CLINICS_FILE). */
  clinicsFile: string;
  /** Replies may take this many SMS segments before a warning (default 1). */
  maxSegments?: number;
  /** Now, for the closures in the past (default: the clock). */
  now?: Date;
}

export interface CheckReport {
  /** Errors and warnings, sorted by file, line and column. */
  findings: Finding[];
  errors: number;
  warnings: number;
  /** Warnings the rules accept on purpose (`accept:` on the rule or template): counted, not listed. */
  accepted: number;
  /** Files looked at. */
  files: string[];
  /** Clinics whose rules compiled. */
  clinics: string[];
  /**
   * By clinic, every rule that may text an opted-out number (its action's reply reaches one:
   * opt-in, help, safety), so a clinic can see them all in one place.
   */
  repliesToOptedOut: Array<{ clinic: string; rules: Array<{ name: string; action: string; source: string }> }>;
}

/** A warning check run on each clinic's merged rules. */
export type ClinicCheck = (ctx: ClinicCheckContext, options: CheckOptions) => CheckWarning[] | Promise<CheckWarning[]>;

export const CLINIC_CHECKS: readonly ClinicCheck[] = [
  (ctx) => unreachableRuleWarnings(ctx),
  (ctx) => carrierWordWarnings(ctx),
  (ctx, options) => replyLengthWarnings(ctx, options.maxSegments ?? 1),
  (ctx) => spanishWarnings(ctx),
  (ctx) => unknownNumberShadowWarnings(ctx),
  (ctx, options) => pastClosureWarnings(ctx, options.now ?? new Date()),
];

/**
 * Checks the clinics file and every rules file the way the service loads them (the
 * same parser and compiler), then runs the warning checks on each clinic's merged rules.
 * Never throws for bad content: every problem is a finding.
 * @param options - where the files are
 */
export async function checkRules(options: CheckOptions): Promise<CheckReport> {
  const collector = new FindingCollector();
  const accepted = new FindingCollector();
  let clinics: ClinicsFile | null = null;
  try {
    clinics = await loadClinicsFile(options.clinicsFile);
  } catch (err) {
    if (!isAppError(err)) {
      throw err;
    }
    collector.addAll(findingsOf(err, options.clinicsFile));
  }
  const defaults = await parseDefaultRulesFile(options.rulesDir);
  const files = [options.clinicsFile, defaults.file];
  const clinicFiles = new Map<string, ParsedRulesFile>();
  for (const entry of await listClinicFiles(options.rulesDir)) {
    const file = join(options.rulesDir, 'clinics', entry);
    files.push(file);
    if (extname(entry) !== '.yaml') {
      collector.add(fileFinding(file, 'ignored: clinic rules files are named <clinic-id>.yaml', 'warning', 'unused-file'));
      continue;
    }
    const parsed = await parseClinicRulesFile(options.rulesDir, basename(entry, '.yaml'));
    if (parsed) {
      clinicFiles.set(basename(entry, '.yaml'), parsed);
    }
  }
  // Findings of each file on its own, so a file is checked even when no clinic uses it.
  collector.addAll(defaults.findings);
  for (const parsed of clinicFiles.values()) {
    collector.addAll(parsed.findings);
  }
  const compiledClinics: string[] = [];
  const repliesToOptedOut: CheckReport['repliesToOptedOut'] = [];
  if (clinics) {
    for (const [id, parsed] of clinicFiles) {
      if (!clinics.byId.has(id)) {
        collector.add(fileFinding(parsed.file, `no clinic "${id}" in ${options.clinicsFile}: this file is not used`, 'warning', 'unused-file'));
      }
    }
    const clinicIds = clinics.clinics.map((c) => c.id);
    for (const clinic of clinics.clinics) {
      const clinicFile = clinicFiles.get(clinic.id) ?? null;
      const result = compileClinicRules(defaults, clinicFile, clinic);
      collector.addAll(result.findings);
      if (!result.rules) {
        continue;
      }
      compiledClinics.push(clinic.id);
      repliesToOptedOut.push({
        clinic: clinic.id,
        rules: result.rules.rules
          .filter((r) => REPLIES_TO_OPTED_OUT.has(r.action))
          .map((r) => ({ name: r.name, action: r.action, source: `${r.source.file}:${r.source.line}:${r.source.col}` })),
      });
      const ctx: ClinicCheckContext = { clinic, compiled: result.rules, defaults, clinicFile };
      for (const check of CLINIC_CHECKS) {
        const warnings = await check(ctx, options);
        const strip = ({ concerns: _concerns, ...finding }: CheckWarning): Finding => finding;
        collector.addForClinic(warnings.filter((w) => !isAccepted(ctx, w)).map(strip), clinic.id, defaults.file, clinicIds);
        accepted.addForClinic(warnings.filter((w) => isAccepted(ctx, w)).map(strip), clinic.id, defaults.file, clinicIds);
      }
    }
  }
  const findings = collector.sorted();
  const errors = findings.filter((f) => f.severity !== 'warning').length;
  return { findings, errors, warnings: findings.length - errors, accepted: accepted.sorted().length, files, clinics: compiledClinics, repliesToOptedOut };
}

async function listClinicFiles(rulesDir: string): Promise<string[]> {
  try {
    const entries = await readdir(join(rulesDir, 'clinics'), { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && !e.name.startsWith('.') && (e.name.endsWith('.yaml') || e.name.endsWith('.yml')))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      return [];
    }
    throw err;
  }
}

/**
 * Keeps each finding once. A warning about rules/default.yaml that holds for some
 * clinics only says which.
 */
class FindingCollector {
  private readonly byKey = new Map<string, { finding: Finding; clinics: Set<string> | null; all: readonly string[] }>();

  add(finding: Finding): void {
    const key = keyOf(finding);
    if (!this.byKey.has(key)) {
      this.byKey.set(key, { finding: { severity: 'error', ...finding }, clinics: null, all: [] });
    }
  }

  addAll(findings: readonly Finding[]): void {
    findings.forEach((f) => this.add(f));
  }

  addForClinic(findings: readonly Finding[], clinicId: string, defaultFile: string, allClinics: readonly string[]): void {
    for (const finding of findings) {
      if (finding.file !== defaultFile) {
        this.add(finding);
        continue;
      }
      const key = keyOf(finding);
      const existing = this.byKey.get(key);
      if (existing) {
        existing.clinics?.add(clinicId);
      } else {
        this.byKey.set(key, { finding: { severity: 'error', ...finding }, clinics: new Set([clinicId]), all: allClinics });
      }
    }
  }

  sorted(): Finding[] {
    const out = [...this.byKey.values()].map(({ finding, clinics, all }) =>
      clinics && clinics.size < all.length ? { ...finding, message: `${finding.message} (clinic${clinics.size === 1 ? '' : 's'} ${[...clinics].join(', ')})` } : finding,
    );
    return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
  }
}

function keyOf(f: Finding): string {
  return `${f.file}\u0000${f.line}\u0000${f.col}\u0000${f.severity ?? 'error'}\u0000${f.message}`;
}
