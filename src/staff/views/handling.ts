import type { Appointment } from '../../domain.js';
import type { ThreadEntryView } from '../../conversations/conversation-service.js';
import { localTime } from './format.js';

type Inbound = Extract<ThreadEntryView, { type: 'inbound' }>;

/** What the thread knows to put the rules' work in words: the appointments they touched and who is who. */
export interface HandlingContext {
  appointments: ReadonlyMap<string, Appointment>;
  /** Patient id to display name. */
  patients: ReadonlyMap<string, string>;
  timeZone: string;
}

const KEYWORD_ACTIONS = new Set(['confirm-appointment', 'cancel-appointment', 'reschedule-appointment', 'opt-out', 'opt-in', 'help']);

/** "Dylan's appointment Wed, Dec 9, 8:00 AM" (or "the appointment" when it is not found any more). */
function appointmentWords(id: string | undefined, ctx: HandlingContext): string {
  const appointment = id === undefined ? undefined : ctx.appointments.get(id);
  if (!appointment) {
    return 'the appointment';
  }
  const first = ctx.patients.get(appointment.patientId)?.split(' ')[0];
  return `${first ? `${first}'s` : 'the'} appointment ${localTime(appointment.startsAt, ctx.timeZone)}`;
}

/** One action's outcome in words. */
function actionWords(action: Inbound['handling']['actions'][number], ctx: HandlingContext): string {
  const appt = (): string => appointmentWords(action.appointmentId, ctx);
  const byOutcome: Record<string, Record<string, () => string>> = {
    'confirm-appointment': {
      confirmed: () => `${appt()} confirmed`,
      'already-confirmed': () => `${appt()} was already confirmed`,
      'change-pending': () => `${appt()} has a change request pending: not confirmed`,
    },
    'cancel-appointment': {
      'cancel-requested': () => `${appt()}: cancellation requested (the front desk makes the change)`,
      'already-requested': () => `${appt()}: cancellation was already requested`,
    },
    'reschedule-appointment': {
      'reschedule-requested': () => `${appt()}: asked to reschedule (the front desk makes the change)`,
      'already-requested': () => `${appt()}: rescheduling was already requested`,
      'change-pending': () => `${appt()}: a cancellation is pending, not rescheduled`,
    },
    'opt-out': { 'opted-out': () => 'opted out of texts', 'already-opted-out': () => 'was already opted out of texts' },
    'opt-in': { 'opted-in': () => 'opted back in to texts', 'already-opted-in': () => 'was already opted in' },
    'route-to-staff': { routed: () => 'put in front of the front desk' },
    help: { help: () => 'sent the help text' },
    'ask-which-appointment': {
      asked: () => 'asked which appointment (several patients on this phone have one)',
      'too-many': () => 'too many appointments to ask about by text: put in front of the front desk with the list',
      'not-asked': () => 'nothing to ask: fewer than two appointments on this phone',
    },
  };
  const known = byOutcome[action.type]?.[action.outcome];
  if (known) {
    return known();
  }
  if (action.outcome === 'no-appointment') {
    return 'no upcoming appointment found: nothing changed';
  }
  if (action.outcome === 'stale') {
    return 'a newer answer already stands: nothing changed';
  }
  return `${action.type}: ${action.outcome}`;
}

const CHOICE_VERBS: Record<string, string> = { 'confirm-appointment': 'confirm', 'cancel-appointment': 'cancel', 'reschedule-appointment': 'reschedule' };

type Choice = NonNullable<Inbound['handling']['choice']>;

/**
 * A family phone's question in words: the question this message asked (with its options and
 * until when the answer is awaited), the list it went to staff with, or the question it came
 * while waiting (its answer, or not one).
 */
function choiceWords(entry: Inbound, choice: Choice, ctx: HandlingContext): string {
  const verb = CHOICE_VERBS[choice.action] ?? choice.action;
  const options = choice.options.map((o) => `${o.number} for ${o.firstName} (${localTime(o.startsAt, ctx.timeZone)})`).join(', ');
  const ask = entry.handling.actions.find((a) => a.type === 'ask-which-appointment');
  if (ask?.outcome === 'asked') {
    return `Family choice: asked which appointment to ${verb}: ${options}, or ALL. The answer is awaited until ${localTime(choice.expiresAt, ctx.timeZone)}.`;
  }
  if (ask?.outcome === 'too-many') {
    return `Family choice: which appointment to ${verb}? Too many to ask by text; the front desk picks: ${options}.`;
  }
  const applied = entry.handling.actions.some((a) => a.type === choice.action);
  return applied
    ? `Family choice: the answer to "which appointment to ${verb}?" (asked ${localTime(choice.askedAt, ctx.timeZone)}: ${options}).`
    : `Family choice: came while "which appointment to ${verb}?" waited for its answer (${options}); not an answer to it.`;
}

/**
 * What the service did with an inbound message, in words, one line a step:
 * "CONFIRM: Dylan's appointment Wed, Dec 9, 8:00 AM confirmed", "Automatic reply sent: …".
 * @param entry - the thread's inbound entry
 * @param ctx - appointments and names
 */
export function describeHandling(entry: Inbound, ctx: HandlingContext): string[] {
  const lines: string[] = [];
  const keyword = entry.text.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  for (const action of entry.handling.actions) {
    const words = actionWords(action, ctx);
    lines.push(KEYWORD_ACTIONS.has(action.type) && keyword !== '' ? `${keyword}: ${words}` : words.charAt(0).toUpperCase() + words.slice(1));
  }
  const status: Record<string, string> = {
    'unknown-number': 'Unknown number: no patient has it',
    'rate-limited': 'Over the texting limit: no automatic reply',
    error: 'The service failed on this message: it sent the system-error reply',
    received: 'Still being handled',
  };
  const choice = entry.handling.choice;
  if (choice) {
    lines.push(choiceWords(entry, choice, ctx));
  }
  if (entry.handling.possibleOptOut) {
    lines.push('Possible opt-out: this message may ask us to stop texting, in its own words (not STOP). Read it before texting the number again.');
  }
  const said = status[entry.handling.status];
  if (said) {
    lines.push(said);
  }
  if (entry.handling.autoReply !== null) {
    lines.push(`Automatic reply sent: “${entry.handling.autoReply}”`);
  }
  return lines;
}
