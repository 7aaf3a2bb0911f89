import { CONSENT_ACTIONS } from '../../actions/consent.js';
import type { CompiledRule } from '../../rules/compile.js';
import { fileNamed, type CheckWarning, type ClinicCheckContext } from './check-context.js';
import { implies } from './implies.js';

/**
 * Rules that can never fire: a rule of higher priority that halts matches whenever
 * this one would (same or wider conditions), so the engine stops before it runs.
 * Rules of equal priority run together in json-rules-engine and are not affected, and
 * consent rules (opt-out, opt-in) never are: no halt stops them (rules/evaluate.ts).
 */
export function unreachableRuleWarnings(ctx: ClinicCheckContext): CheckWarning[] {
  const findings: CheckWarning[] = [];
  const rules = ctx.compiled.rules;
  rules.forEach((rule, i) => {
    if (CONSENT_ACTIONS.has(rule.action)) {
      return;
    }
    const blocker = rules
      .slice(0, i)
      .find((other) => other.halt && other.priority > rule.priority && implies(rule.definition.conditions, other.definition.conditions));
    if (!blocker) {
      return;
    }
    const file = fileNamed(ctx, rule.source.file);
    findings.push({
      file: file.file,
      line: rule.source.line,
      col: rule.source.col,
      severity: 'warning',
      code: 'unreachable-rule',
      concerns: { rules: [rule.name] },
      message: `rule "${rule.name}" can never fire: rule "${blocker.name}" (priority ${blocker.priority}, halts, ${where(blocker)}) matches every message it matches and stops lower priorities first`,
    });
  });
  return findings;
}

function where(rule: CompiledRule): string {
  return `${rule.source.file}:${rule.source.line}:${rule.source.col}`;
}
