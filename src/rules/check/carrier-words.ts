import type { Finding } from '../../errors.js';
import { normalizeText } from '../normalize.js';
import { ACTIONS_FOR_KIND, CARRIER_BEHAVIOUR, CARRIER_WORDS, type CarrierWordKind } from './carrier-keywords.js';
import { filesOf, warningAt, type ClinicCheckContext } from './check-context.js';

/** Actions that change consent or an appointment: what a carrier word must not trigger by surprise. */
const STATE_CHANGING = new Set(['opt-out', 'opt-in', 'confirm-appointment', 'cancel-appointment', 'reschedule-appointment']);

/**
 * Keyword variants (and rules keyed on a bare word) that carriers or Twilio treat as
 * opt-out, opt-in or help words, used here for something else: a rule set that
 * answers CANCEL by cancelling an appointment still gets the number opted out by Twilio.
 */
export function carrierWordWarnings(ctx: ClinicCheckContext): Finding[] {
  const findings: Finding[] = [];
  const { compiled } = ctx;
  const actionsFor = (key: string): string[] => compiled.rules.filter((r) => r.requires?.includes(key)).map((r) => r.action);
  for (const file of filesOf(ctx)) {
    for (const [command, byLanguage] of Object.entries(file.data?.keywords ?? {})) {
      for (const [language, variants] of Object.entries(byLanguage)) {
        if (!compiled.languages.includes(language)) {
          continue;
        }
        variants.forEach((variant, i) => {
          const word = normalizeText(variant);
          const kind = CARRIER_WORDS.get(word);
          if (!kind || compiled.vocabulary.get(word)?.command !== command) {
            return;
          }
          const problem = misuse(kind, actionsFor(`command:${command}`));
          if (problem) {
            findings.push(
              warningAt(file, ['keywords', command, language, i], `keywords.${command}.${language}[${i}]: "${word}" ${problem}; ${CARRIER_BEHAVIOUR[kind]}`),
            );
          }
        });
      }
    }
  }
  for (const rule of compiled.rules) {
    for (const key of rule.requires ?? []) {
      const word = key.startsWith('keyword:') ? key.slice('keyword:'.length) : '';
      const kind = CARRIER_WORDS.get(word);
      const problem = kind ? misuse(kind, [rule.action]) : null;
      if (kind && problem) {
        findings.push({
          file: rule.source.file,
          line: rule.source.line,
          col: rule.source.col,
          severity: 'warning',
          message: `rule "${rule.name}": keyword "${word}" ${problem}; ${CARRIER_BEHAVIOUR[kind]}`,
        });
      }
    }
  }
  return findings;
}

/** Why the actions that a carrier word triggers are a surprise, or null when they are what carriers do. */
function misuse(kind: CarrierWordKind, actions: readonly string[]): string | null {
  if (actions.length === 0) {
    return null;
  }
  const expected = ACTIONS_FOR_KIND[kind];
  const other = [...new Set(actions.filter((a) => STATE_CHANGING.has(a) && !expected.includes(a)))];
  if (other.length > 0) {
    return `is a carrier ${kind} word but here it runs ${other.join(', ')}`;
  }
  if (!actions.some((a) => expected.includes(a))) {
    return `is a carrier ${kind} word but no rule here runs ${expected.join(' or ')} on it (only ${[...new Set(actions)].join(', ')})`;
  }
  return null;
}
