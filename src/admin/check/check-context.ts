import type { Clinic } from '../../domain.js';
import type { Finding } from '../../errors.js';
import type { CompiledRules } from '../../rules/compile.js';
import type { ParsedRulesFile } from '../../rules/rules-file.js';
import type { WarningCode } from '../../rules/warning-codes.js';
import type { JsonPath } from '../../config/yaml-source.js';

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
export function warningAt(file: ParsedRulesFile, path: JsonPath, message: string, key = false): Omit<Finding, 'code'> {
  return file.source.findingAt(path, message, { key, severity: 'warning' });
}

/** The parsed file a compiled rule or template came from. */
export function fileNamed(ctx: ClinicCheckContext, name: string): ParsedRulesFile {
  return filesOf(ctx).find((f) => f.file === name) ?? ctx.defaults;
}

/** A warning of a check: its code, and the rules or template it concerns (whose `accept:` may accept it). */
export interface CheckWarning extends Finding {
  code: WarningCode;
  concerns?: { rules?: readonly string[]; template?: string };
}

/**
 * Whether the clinic's rules accept `warning` on purpose: a rule or template it concerns
 * (as the clinic has it: its own file's definition when it replaces a default one) lists
 * the warning's code in `accept:` (every one of them when it concerns several).
 */
export function isAccepted(ctx: ClinicCheckContext, warning: CheckWarning): boolean {
  const lists = (warning.concerns?.rules ?? []).map((name) => {
    const rule = ctx.compiled.rules.find((r) => r.name === name);
    return rule ? fileNamed(ctx, rule.source.file).rules.find((r) => r.data.name === name)?.data.accept : undefined;
  });
  const templateName = warning.concerns?.template;
  const template = templateName === undefined ? undefined : ctx.compiled.templates.get(templateName);
  if (template && templateName !== undefined) {
    const entry = fileNamed(ctx, template.source.file).data?.templates?.[templateName];
    lists.push(typeof entry === 'object' && Array.isArray(entry.accept) ? entry.accept : undefined);
  }
  return lists.length > 0 && lists.every((list) => Array.isArray(list) && list.includes(warning.code));
}
