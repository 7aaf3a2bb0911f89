import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clinic } from '../domain.js';
import { AppError, errorCode, fileFinding, formatFindings, type Finding } from '../errors.js';
import { compileClinicRules, type CompiledRules } from './compile.js';
import { parseRulesFile, type ParsedRulesFile } from './rules-file.js';

export type { CompiledRule, CompiledRules, CompiledTemplate, SourcePosition } from './compile.js';
export { compileClinicRules } from './compile.js';
export { parseRulesFile, type ParsedRulesFile } from './rules-file.js';

/** Where a clinic's rules live: rules/default.yaml and rules/clinics/<id>.yaml. */
export function rulesFilePaths(rulesDir: string, clinicId: string): { defaultFile: string; clinicFile: string } {
  return { defaultFile: join(rulesDir, 'default.yaml'), clinicFile: join(rulesDir, 'clinics', `${clinicId}.yaml`) };
}

/**
 * Reads and checks rules/default.yaml. A missing or unreadable file becomes a finding.
 * @param rulesDir - the rules folder (RULES_DIR)
 */
export async function parseDefaultRulesFile(rulesDir: string): Promise<ParsedRulesFile> {
  const file = join(rulesDir, 'default.yaml');
  const text = await readText(file);
  if (typeof text !== 'string') {
    return unreadable(file, 'default', text);
  }
  return parseRulesFile(text, file, 'default');
}

/**
 * Reads and checks rules/clinics/<id>.yaml; null when the clinic has no file.
 * @param rulesDir - the rules folder
 * @param clinicId - the clinic id
 */
export async function parseClinicRulesFile(rulesDir: string, clinicId: string): Promise<ParsedRulesFile | null> {
  const file = rulesFilePaths(rulesDir, clinicId).clinicFile;
  const text = await readText(file);
  if (text === null) {
    return null;
  }
  if (typeof text !== 'string') {
    return unreadable(file, 'clinic', text);
  }
  return parseRulesFile(text, file, 'clinic');
}

/**
 * Loads, checks and compiles the rules of every clinic.
 * @throws AppError RULES_INVALID with every finding (file:line:col) of every file
 */
export async function loadRules(opts: { rulesDir: string; clinics: readonly Clinic[] }): Promise<Map<string, CompiledRules>> {
  const defaults = await parseDefaultRulesFile(opts.rulesDir);
  const out = new Map<string, CompiledRules>();
  const findings = new Map<string, Finding>();
  for (const clinic of opts.clinics) {
    const clinicFile = await parseClinicRulesFile(opts.rulesDir, clinic.id);
    const result = compileClinicRules(defaults, clinicFile, clinic);
    for (const f of result.findings) {
      findings.set(`${f.file}:${f.line}:${f.col}:${f.message}`, f);
    }
    if (result.rules) {
      out.set(clinic.id, result.rules);
    }
  }
  if (opts.clinics.length === 0) {
    for (const f of defaults.findings) {
      findings.set(`${f.file}:${f.line}:${f.col}:${f.message}`, f);
    }
  }
  throwOnErrors([...findings.values()]);
  return out;
}

/**
 * Loads one clinic's rules (for reload): the clinic's file over rules/default.yaml.
 * @throws AppError RULES_INVALID with every finding
 */
export async function loadClinicRules(opts: { rulesDir: string; clinic: Clinic }): Promise<CompiledRules> {
  const defaults = await parseDefaultRulesFile(opts.rulesDir);
  const clinicFile = await parseClinicRulesFile(opts.rulesDir, opts.clinic.id);
  const result = compileClinicRules(defaults, clinicFile, opts.clinic);
  throwOnErrors(result.findings);
  if (!result.rules) {
    throw new AppError('RULES_INVALID', `rules for clinic ${opts.clinic.id} did not compile`, { findings: result.findings });
  }
  return result.rules;
}

function throwOnErrors(findings: Finding[]): void {
  const errors = findings.filter((f) => f.severity !== 'warning');
  if (errors.length > 0) {
    const sorted = [...findings].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
    throw new AppError('RULES_INVALID', `invalid rules (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${formatFindings(sorted)}`, {
      findings: sorted,
    });
  }
}

async function readText(file: string): Promise<string | null | Error> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      return null;
    }
    return err as Error;
  }
}

function unreadable(file: string, kind: 'default' | 'clinic', err: Error | null): ParsedRulesFile {
  const parsed = parseRulesFile('', file, kind);
  parsed.data = null;
  parsed.unusable = true;
  parsed.findings = [fileFinding(file, `cannot read: ${err ? err.message : 'file not found'}`)];
  return parsed;
}
