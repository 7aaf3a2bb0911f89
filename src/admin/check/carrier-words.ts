import type { Appointment, InboundMessage, Patient } from '../../domain.js';
import { MemoryStore } from '../../store/memory/memory-store.js';
import type { CompiledRules } from '../../rules/compile.js';
import { decide } from '../../rules/evaluate.js';
import { ACTIONS_FOR_KIND, CARRIER_BEHAVIOUR, CARRIER_WORDS, type CarrierWordKind } from './carrier-keywords.js';
import { filesOf, warningAt, type CheckWarning, type ClinicCheckContext } from './check-context.js';

/** Actions that change consent or an appointment: what a carrier word must not trigger by surprise. */
const STATE_CHANGING = new Set(['opt-out', 'opt-in', 'confirm-appointment', 'cancel-appointment', 'reschedule-appointment']);

interface Scenario {
  label: string;
  known: boolean;
  optedOut: boolean;
}

/** The senders a bare carrier word is tried from, by kind: where carriers act on it. */
const SCENARIOS: Readonly<Record<CarrierWordKind, readonly Scenario[]>> = {
  'opt-out': [
    { label: 'a patient', known: true, optedOut: false },
    { label: 'an unknown number', known: false, optedOut: false },
  ],
  'opt-in': [
    { label: 'an opted-out patient', known: true, optedOut: true },
    { label: 'a subscribed patient', known: true, optedOut: false },
  ],
  help: [{ label: 'a patient', known: true, optedOut: false }],
};

/**
 * Words carriers and Twilio act on by themselves (STOP, CANCEL, YES, HELP, ...) that the
 * rules use for something else. Each word is sent, alone, through the real rules
 * (decide(), a scratch in-memory store) from the senders carriers care about: a bare
 * CANCEL that cancels an appointment, or an END that no rule opts out on, is reported;
 * "CANCEL APPT" is not a carrier word and is not.
 */
export async function carrierWordWarnings(ctx: ClinicCheckContext): Promise<CheckWarning[]> {
  const findings: CheckWarning[] = [];
  for (const [word, kind] of CARRIER_WORDS) {
    for (const scenario of SCENARIOS[kind]) {
      const actions = await actionsFor(ctx.compiled, word, scenario);
      const problem = misuse(kind, actions.map((a) => a.action));
      if (!problem) {
        continue;
      }
      const rules = [...new Set(actions.filter((a) => STATE_CHANGING.has(a.action)).map((a) => a.rule))];
      const by = rules.map((rule) => `rule "${rule}"`);
      findings.push({
        code: 'carrier-word',
        // The rules that use the word for something else may accept it on purpose (YES confirms).
        concerns: { rules },
        ...locate(ctx, word, `a bare "${word}" from ${scenario.label} ${problem}${by.length > 0 ? ` (${by.join(', ')})` : ''}; ${CARRIER_BEHAVIOUR[kind]}`),
      });
      break;
    }
  }
  return findings;
}

async function actionsFor(rules: CompiledRules, word: string, scenario: Scenario): Promise<Array<{ rule: string; action: string }>> {
  const store = new MemoryStore();
  const now = new Date('2030-01-09T16:00:00Z');
  const clinic = rules.clinic;
  const from = '+13125550000';
  const patients: Patient[] = scenario.known ? [{ id: 'p-check', clinicId: clinic.id, firstName: 'Sample', lastName: 'Patient', phone: from }] : [];
  const appointments: Appointment[] = scenario.known
    ? [{ id: 'a-check', clinicId: clinic.id, patientId: 'p-check', startsAt: new Date(now.getTime() + 48 * 3_600_000), status: 'scheduled' }]
    : [];
  await store.upsertPatients(patients);
  await store.upsertAppointments(appointments);
  const message: InboundMessage = {
    messageSid: 'SMcheck',
    from,
    to: clinic.phoneNumbers[0] ?? '',
    body: word,
    numMedia: 0,
    media: [],
    extra: {},
  };
  const decision = await decide(rules, { clinic, message, patients, optedOut: scenario.optedOut, now, store });
  return decision.events.map((e) => ({ rule: e.ruleName, action: e.type }));
}

/** Why the actions a carrier word triggers are a surprise, or null when they are what carriers do. */
function misuse(kind: CarrierWordKind, actions: readonly string[]): string | null {
  const expected = ACTIONS_FOR_KIND[kind];
  const other = [...new Set(actions.filter((a) => STATE_CHANGING.has(a) && !expected.includes(a)))];
  if (other.length > 0) {
    return `runs ${other.join(', ')}`;
  }
  if (!actions.some((a) => expected.includes(a))) {
    return `runs no ${expected.join(' or ')} action${actions.length > 0 ? ` (only ${[...new Set(actions)].join(', ')})` : ''}`;
  }
  return null;
}

/** The keyword variant that lists `word` (the clinic's file first), else the keywords section, else the file's top. */
function locate(ctx: ClinicCheckContext, word: string, reason: string): ReturnType<typeof warningAt> {
  const files = filesOf(ctx).reverse();
  for (const file of files) {
    for (const [command, byLanguage] of Object.entries(file.data?.keywords ?? {})) {
      for (const [language, variants] of Object.entries(byLanguage)) {
        const i = variants.findIndex((v) => v.trim().toUpperCase() === word);
        if (i >= 0) {
          return warningAt(file, ['keywords', command, language, i], `keywords.${command}.${language}[${i}]: ${reason}`);
        }
      }
    }
  }
  const file = files.find((f) => f.data?.keywords !== undefined) ?? files[0] ?? ctx.defaults;
  return warningAt(file, file.data?.keywords ? ['keywords'] : [], `keywords: ${reason}`, file.data?.keywords !== undefined);
}
