import { appointmentStatus, type Appointment, type Clinic, type InboundMessage, type Patient, type SenderState } from '../domain.js';
import type { Store } from '../store/store.js';
import { patientCount, readChoice, type ChoiceReading } from './choice.js';
import type { CompiledRules, VocabularyEntry } from './compile.js';
import type { FactName } from './fact-catalog.js';
import { closureOn, isWithinBusinessHours, localTime } from './local-time.js';
import { normalizeText } from './normalize.js';
import { readRevocation, type RevocationReading } from './revocation.js';

/** One message and what is known about its sender: what the rules decide on. */
export interface EvaluationInput {
  clinic: Clinic;
  message: InboundMessage;
  patients: Patient[];
  /** The sender's opt-out state before this message. */
  optedOut: boolean;
  now: Date;
  /** When the message reached us (absent: now; simulate and checks); see ActionContext.receivedAt. */
  receivedAt?: Date;
  /** Read for the lazy appointment facts; the actions write to it. */
  store: Store;
  /** What the sender's conversation remembers (touchSender): a pending choice, staff activity, automatic replies. */
  sender?: Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'>;
}

/** Everything known about one message before the rules run, and its lazy appointment look-up. */
export interface MessageContext {
  text: string;
  words: string[];
  keyword: string;
  /** The keyword name matched through the vocabulary ("" when none). */
  command: string;
  /** The language of the variant matched ("" when none). */
  language: string;
  /** Facts computed up front (cheap, no I/O). */
  facts: Record<Exclude<FactName, `appointment.${string}`>, unknown>;
  /** The message read as an answer to the sender's pending "which appointment?" question. */
  choice: ChoiceReading;
  /** What the message says about consent in plain words (message.revocation) and the phrase that said it. */
  revocation: RevocationReading;
  /** The patients' upcoming appointments within settings.choiceWithinDays, soonest first: looked up at most once. */
  upcoming(): Promise<Appointment[]>;
  /** The looked-up upcoming appointments, or undefined when nobody asked. */
  peekUpcoming(): Appointment[] | undefined;
  /** The soonest upcoming appointment among the patients: looked up at most once. */
  nextAppointment(): Promise<Appointment | null>;
  /** The looked-up appointment, or undefined when nobody asked for it. */
  peekAppointment(): Appointment | null | undefined;
}

/**
 * Finds the keyword at the start of the message: the longest phrase of the clinic's
 * vocabulary that the message's words begin with ("OPT OUT" before "OPT").
 */
export function matchVocabulary(
  words: readonly string[],
  vocabulary: ReadonlyMap<string, VocabularyEntry>,
  maxPhraseWords: number,
): VocabularyEntry | null {
  for (let n = Math.min(maxPhraseWords, words.length); n >= 1; n -= 1) {
    const found = vocabulary.get(words.slice(0, n).join(' '));
    if (found) {
      return found;
    }
  }
  return null;
}

/**
 * Builds the facts of one message.
 * @param rules - the clinic's compiled rules (vocabulary)
 * @param input - the message, its sender's patients and state
 */
export function createMessageContext(rules: CompiledRules, input: EvaluationInput): MessageContext {
  const { clinic, message, patients, now } = input;
  const text = normalizeText(message.body);
  const words = text === '' ? [] : text.split(' ');
  const match = matchVocabulary(words, rules.vocabulary, rules.maxPhraseWords);
  const local = localTime(now, clinic.timezone);
  let lookup: Promise<Appointment | null> | undefined;
  let looked: Appointment | null | undefined;
  const nextAppointment = (): Promise<Appointment | null> => {
    if (!lookup) {
      lookup =
        patients.length === 0
          ? Promise.resolve(null)
          : input.store.findNextAppointment(
              clinic.id,
              patients.map((p) => p.id),
              now,
            );
      lookup.then(
        (a) => {
          looked = a;
        },
        () => undefined,
      );
    }
    return lookup;
  };
  let upcomingLookup: Promise<Appointment[]> | undefined;
  let upcomingLooked: Appointment[] | undefined;
  const upcoming = (): Promise<Appointment[]> => {
    if (!upcomingLookup) {
      const until = new Date(now.getTime() + rules.settings.choiceWithinDays * 86_400_000);
      upcomingLookup = patients.length === 0 ? Promise.resolve([]) : input.store.findUpcomingAppointments(clinic.id, patients.map((p) => p.id), now, until);
      upcomingLookup.then(
        (list) => {
          upcomingLooked = list;
        },
        () => undefined,
      );
    }
    return upcomingLookup;
  };
  const choice = readChoice(input.sender?.choice, text, match?.command ?? '', now);
  const revocation = readRevocation(text, rules.phraseLists);
  const hoursAgo = (at: Date | undefined): number => (at === undefined ? Infinity : (now.getTime() - at.getTime()) / 3_600_000);
  const facts: MessageContext['facts'] = {
    'message.body': message.body.trim(),
    'message.text': text,
    'message.keyword': words[0] ?? '',
    'message.command': match?.command ?? '',
    'message.language': match?.language ?? '',
    'message.words': words,
    'message.wordCount': words.length,
    'message.mediaCount': message.media.length > 0 ? message.media.length : message.numMedia,
    'message.mediaTypes': message.media.map((m) => m.contentType),
    'message.twilioOptOutType': (message.optOutType ?? '').toUpperCase(),
    'message.revocation': revocation.value,
    'message.revocationPhrase': revocation.phrase ?? '',
    'clinic.id': clinic.id,
    'clinic.name': clinic.name,
    'clinic.timezone': clinic.timezone,
    'clinic.officePhone': clinic.officePhone ?? '',
    'clinic.languages': [...clinic.languages],
    'clinic.autoReply': clinic.autoReply,
    'patients.known': patients.length > 0,
    'patients.count': patients.length,
    'patients.firstNames': patients.map((p) => p.firstName),
    'patients.language': patients.find((p) => p.language)?.language ?? '',
    'sender.optedOut': input.optedOut,
    'time.hour': local.hour,
    'time.minute': local.minute,
    'time.weekday': local.weekday,
    'time.date': local.date,
    'time.closedToday': closureOn(clinic, local.date) !== null,
    'time.inBusinessHours': isWithinBusinessHours(clinic, now),
    'choice.pending': choice.pending !== null,
    'choice.answer': choice.answer,
    'choice.action': choice.pending?.action ?? '',
    'choice.attempts': choice.pending?.attempts ?? 0,
    'conversation.staffActive': hoursAgo(input.sender?.staffAt) < rules.settings.staffActiveHours,
    'sender.recentReplies': Object.entries(input.sender?.autoReplies ?? {})
      .filter(([, at]) => hoursAgo(at) < rules.settings.autoReplyOnceHours)
      .map(([kind]) => kind)
      .sort(),
  };
  return {
    text,
    words,
    keyword: words[0] ?? '',
    command: match?.command ?? '',
    language: match?.language ?? '',
    facts,
    nextAppointment,
    peekAppointment: () => looked,
    choice,
    revocation,
    upcoming,
    peekUpcoming: () => upcomingLooked,
  };
}

/** The appointment facts, computed from the (lazy, cached) next appointment. */
export const APPOINTMENT_FACTS: Record<`appointment.${string}`, (a: Appointment | null, input: EvaluationInput) => unknown> = {
  'appointment.exists': (a) => a !== null,
  'appointment.status': (a) => (a ? appointmentStatus(a) : ''),
  'appointment.hoursUntil': (a, input) => (a ? Math.floor((a.startsAt.getTime() - input.now.getTime()) / 3_600_000) : -1),
  'appointment.patientFirstName': (a, input) => (a ? (input.patients.find((p) => p.id === a.patientId)?.firstName ?? '') : ''),
};

/** Lazy facts of the upcoming appointments within the choice window (a family phone). */
export const UPCOMING_FACTS: Record<`appointment.${string}`, (upcoming: readonly Appointment[]) => unknown> = {
  'appointment.patientCount': patientCount,
};
