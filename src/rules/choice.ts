/**
 * A family phone's "which appointment?" question: the options it offers, and what a reply
 * to it says. Pure functions; the question is kept with the sender by the store.
 */
import type { Appointment, ChoiceAction, ChoiceOption, Patient, PendingChoice } from '../domain.js';
import { normalizeText } from './normalize.js';

/** The keyword that asked, to the action the answer applies (YES confirms, as the confirm rule does). */
export const CHOICE_ACTION_BY_COMMAND: Readonly<Record<string, ChoiceAction>> = {
  CONFIRM: 'confirm-appointment',
  YES: 'confirm-appointment',
  CANCEL: 'cancel-appointment',
  RESCHEDULE: 'reschedule-appointment',
};

/** Words that choose every option, in the shipped languages (normalized). */
const ALL_WORDS: ReadonlySet<string> = new Set(['ALL', 'BOTH', 'ALL OF THEM', 'TODAS', 'TODOS', 'AMBAS', 'AMBOS', 'LAS DOS', 'LOS DOS']);

/** An answer longer than this many words is free text (for staff), not an attempt to choose. */
const SHORT_ANSWER_WORDS = 4;

export interface ChoiceReading {
  /** The sender's question, when one is pending and has not expired. */
  pending: PendingChoice | null;
  /** chosen: `chosen` holds the options; unclear: a short answer that matches none; "": anything else. */
  answer: 'chosen' | 'unclear' | '';
  chosen: ChoiceOption[];
}

/**
 * Reads a message as an answer to the sender's pending question.
 * @param choice - the stored question (absent: none)
 * @param text - the message, normalized
 * @param command - the keyword the message starts with ("" when none): a keyword is never an answer
 * @param now - expired questions are gone
 */
export function readChoice(choice: PendingChoice | undefined, text: string, command: string, now: Date): ChoiceReading {
  if (!choice || choice.expiresAt <= now) {
    return { pending: null, answer: '', chosen: [] };
  }
  const none = { pending: choice, answer: '' as const, chosen: [] };
  if (command !== '' || text === '') {
    return none;
  }
  const words = text.split(' ');
  if (ALL_WORDS.has(text)) {
    return { pending: choice, answer: 'chosen', chosen: [...choice.options] };
  }
  if (/^\d{1,2}$/.test(text)) {
    const option = choice.options[Number(text) - 1];
    return option ? { pending: choice, answer: 'chosen', chosen: [option] } : { pending: choice, answer: 'unclear', chosen: [] };
  }
  if (words.length > SHORT_ANSWER_WORDS) {
    return none;
  }
  // First names, accents and case ignored: "carla", "Para Carla", "Dylan y Carla".
  const named = choice.options.filter((o) => {
    const name = normalizeText(o.firstName);
    return name !== '' && (text === name || ` ${text} `.includes(` ${name} `));
  });
  if (named.length > 0) {
    return { pending: choice, answer: 'chosen', chosen: named };
  }
  return { pending: choice, answer: 'unclear', chosen: [] };
}

/**
 * The options a question offers: each patient's soonest appointment among `upcoming`
 * (soonest first), so "1" and "Dylan" mean the same appointment.
 * @param upcoming - the patients' upcoming appointments, soonest first
 * @param patients - the patients on the phone (their first names)
 */
export function choiceOptions(upcoming: readonly Appointment[], patients: readonly Patient[]): ChoiceOption[] {
  const seen = new Set<string>();
  const options: ChoiceOption[] = [];
  for (const a of upcoming) {
    if (seen.has(a.patientId)) {
      continue;
    }
    seen.add(a.patientId);
    const firstName = patients.find((p) => p.id === a.patientId)?.firstName ?? '';
    options.push({ appointmentId: a.id, patientId: a.patientId, firstName, startsAt: new Date(a.startsAt) });
  }
  return options;
}

/** How many patients have an upcoming appointment among `upcoming`. */
export function patientCount(upcoming: readonly Appointment[]): number {
  return new Set(upcoming.map((a) => a.patientId)).size;
}
