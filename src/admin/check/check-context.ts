import type { Clinic } from '../../domain.js';
import type { Finding } from '../../errors.js';
import type { CompiledRules } from '../../rules/compile.js';
import type { ParsedRulesFile } from '../../rules/rules-file.js';
import type { JsonPath } from '../../rules/yaml-source.js';

/** What a warning check sees of one clinic: its merged rules and the files they came from. */
export interface ClinicCheckContext {
  clinic: Clinic;
  compiled: CompiledRules;
  defaults: ParsedRulesFile;
  clinicFile: ParsedRulesFile | null;
}

/** The files of a clinic, default first (a clinic's own definitions win). */
export function filesOf(ctx: ClinicCheckContext): ParsedRulesFile[] {
  return ctx.clinicFile ? [ctx.defaults, ctx.clinicFile] : [ctx.defaults];
}

/** A warning at `path` of `file`. */
export function warningAt(file: ParsedRulesFile, path: JsonPath, message: string, key = false): Finding {
  return file.source.findingAt(path, message, { key, severity: 'warning' });
}

/** The parsed file a compiled rule or template came from. */
export function fileNamed(ctx: ClinicCheckContext, name: string): ParsedRulesFile {
  return filesOf(ctx).find((f) => f.file === name) ?? ctx.defaults;
}
