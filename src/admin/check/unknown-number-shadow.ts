import { fileNamed, type CheckWarning, type ClinicCheckContext } from './check-context.js';
import { implies } from './implies.js';

/** Actions that only make sense for a known patient: their rules are not meant for unknown numbers. */
const PATIENT_ACTIONS = new Set(['confirm-appointment', 'cancel-appointment', 'reschedule-appointment', 'route-to-staff']);

const UNKNOWN_SENDER = { fact: 'patients.known', operator: 'equal', value: false };

/**
 * Keyword rules meant for every sender that never answer unknown numbers: a rule that
 * halts on every unknown sender (the default `unknown-number`) has a priority at or
 * above theirs, so for an unknown number they never run, or lose the reply to it.
 * A rule is taken as meant for everyone when it tests a keyword, says nothing about the
 * sender being a patient (no patients.* or appointment.* fact) and its action does not
 * need a patient (reply-only, help, opt-in, opt-out, no-reply).
 */
export function unknownNumberShadowWarnings(ctx: ClinicCheckContext): CheckWarning[] {
  const rules = ctx.compiled.rules;
  const gates = rules.filter((r) => r.halt && implies(UNKNOWN_SENDER, r.definition.conditions));
  const findings: CheckWarning[] = [];
  for (const rule of rules) {
    const keywords = (rule.requires ?? []).filter((k) => k.startsWith('command:') || k.startsWith('keyword:'));
    if (keywords.length === 0 || PATIENT_ACTIONS.has(rule.action) || rule.facts.some((f) => f.startsWith('patients.') || f.startsWith('appointment.'))) {
      continue;
    }
    const gate = gates.find((g) => g !== rule && g.priority >= rule.priority);
    if (!gate) {
      continue;
    }
    findings.push({
      file: fileNamed(ctx, rule.source.file).file,
      line: rule.source.line,
      col: rule.source.col,
      severity: 'warning',
      code: 'unknown-number-shadow',
      concerns: { rules: [rule.name] },
      message:
        `rule "${rule.name}" (priority ${rule.priority}) never answers unknown numbers: rule "${gate.name}" (priority ${gate.priority}, halts) ` +
        `takes every unknown sender first; give it a priority above ${gate.priority} if it is meant for everyone, or add ` +
        `{ fact: patients.known, operator: equal, value: true } if it is for patients only`,
    });
  }
  return findings;
}
