/**
 * Every fact a rule may name, with its type and a line of documentation. The loader
 * rejects any other fact name, and checks condition values against these types,
 * because json-rules-engine itself only notices an unknown fact when a message
 * arrives. rules/README.md documents the same list.
 */

export type FactType = 'string' | 'number' | 'boolean' | 'string[]';

export interface FactSpec {
  type: FactType;
  doc: string;
  /** Computed only when a rule that is run names it (json-rules-engine dynamic fact). */
  lazy?: boolean;
  /** Values compared with this fact are normalized words: upper-case letters and digits. */
  normalized?: boolean;
}

export const FACTS = {
  'message.body': { type: 'string', doc: 'the message text as sent, trimmed' },
  'message.text': { type: 'string', doc: 'the whole message normalized: upper-case, accents and punctuation removed, single spaces', normalized: true },
  'message.keyword': { type: 'string', doc: 'the first word, normalized ("" when the message has no words)', normalized: true },
  'message.command': {
    type: 'string',
    doc: 'the keyword name (a key of `keywords:`) the message starts with, in any variant of the clinic\'s languages ("" when none)',
    normalized: true,
  },
  'message.language': { type: 'string', doc: 'the language of the keyword variant the message used ("en", "es"; "" when none)' },
  'message.words': { type: 'string[]', doc: 'all words, normalized', normalized: true },
  'message.wordCount': { type: 'number', doc: 'how many words' },
  'message.mediaCount': { type: 'number', doc: 'how many media attachments (NumMedia)' },
  'message.mediaTypes': { type: 'string[]', doc: 'the attachments\' content types, e.g. image/jpeg' },
  'message.twilioOptOutType': {
    type: 'string',
    doc: 'Twilio\'s OptOutType parameter (STOP, START, HELP) when Advanced Opt-Out recognised the message; "" otherwise',
  },
  'message.revocation': {
    type: 'string',
    doc: 'a plain-language opt-out in the text, from the phrase lists revocation-clear, revocation-possible and revocation-not: clear, possible or none',
  },
  'message.revocationPhrase': { type: 'string', doc: 'the phrase that made message.revocation clear or possible, normalized ("" when none)' },
  'clinic.id': { type: 'string', doc: 'the clinic id' },
  'clinic.name': { type: 'string', doc: 'the clinic name' },
  'clinic.timezone': { type: 'string', doc: 'the clinic\'s IANA time zone' },
  'clinic.officePhone': { type: 'string', doc: 'the office phone ("" when not configured)' },
  'clinic.languages': { type: 'string[]', doc: 'the clinic\'s languages, e.g. ["en", "es"]' },
  'clinic.autoReply': { type: 'boolean', doc: 'false when the clinic turned automatic replies off' },
  'patients.known': { type: 'boolean', doc: 'true when at least one patient of this clinic has the sender\'s number' },
  'patients.count': { type: 'number', doc: 'how many patients share the sender\'s number' },
  'patients.firstNames': { type: 'string[]', doc: 'their first names' },
  'patients.language': { type: 'string', doc: 'the first patient\'s preferred language ("" when none)' },
  'sender.optedOut': { type: 'boolean', doc: 'true while the number is opted out of this clinic\'s texts (before this message)' },
  'appointment.exists': { type: 'boolean', doc: 'true when any patient on the number has an upcoming, not cancelled appointment', lazy: true },
  'appointment.status': {
    type: 'string',
    doc: 'status of the soonest upcoming appointment as the patient sees it (their SMS answer over the practice status): scheduled, confirmed, cancel-requested, reschedule-requested ("" when none)',
    lazy: true,
  },
  'appointment.hoursUntil': { type: 'number', doc: 'hours from now until it starts (-1 when none)', lazy: true },
  'appointment.patientFirstName': { type: 'string', doc: 'whose appointment it is ("" when none)', lazy: true },
  'appointment.patientCount': {
    type: 'number',
    doc: 'how many patients on the number have an upcoming, not cancelled appointment within settings.choiceWithinDays (a family phone asks which one when 2 or more)',
    lazy: true,
  },
  'choice.pending': { type: 'boolean', doc: 'the sender has an unanswered "which appointment?" question that has not expired' },
  'choice.answer': {
    type: 'string',
    doc: 'what this message says to the pending question: chosen (a number, ALL or a first name), unclear (a short answer that matches no option), "" (no question pending, a keyword, or free text)',
  },
  'choice.action': { type: 'string', doc: 'the action the pending question applies once answered: confirm-appointment, cancel-appointment, reschedule-appointment ("" when none)' },
  'choice.attempts': { type: 'number', doc: 'unclear answers to the pending question so far' },
  'conversation.staffActive': { type: 'boolean', doc: 'staff replied or wrote a note in this sender\'s conversation within settings.staffActiveHours' },
  'sender.recentReplies': {
    type: 'string[]',
    doc: 'the automatic replies (template names) sent to this sender within settings.autoReplyOnceHours; only templates a rule compares this fact with are remembered',
  },
  'time.hour': { type: 'number', doc: 'the hour in the clinic\'s time zone, 0-23' },
  'time.minute': { type: 'number', doc: 'the minute, 0-59' },
  'time.weekday': { type: 'string', doc: 'the weekday in the clinic\'s time zone: mon, tue, wed, thu, fri, sat, sun' },
  'time.date': { type: 'string', doc: 'the local date in the clinic\'s time zone, YYYY-MM-DD' },
  'time.closedToday': { type: 'boolean', doc: 'true on a day of one of the clinic\'s closures (clinics file `closures:`)' },
  'time.inBusinessHours': { type: 'boolean', doc: 'true inside the clinic\'s businessHours (always true without businessHours), false on a closure day' },
} as const satisfies Record<string, FactSpec>;

export type FactName = keyof typeof FACTS;

export const FACT_NAMES: readonly FactName[] = Object.keys(FACTS) as FactName[];

/** True when `name` is a fact rules may use. */
export function isFactName(name: string): name is FactName {
  return Object.prototype.hasOwnProperty.call(FACTS, name);
}

/** json-rules-engine's built-in operators (the only ones a rule may use). */
export const OPERATORS = [
  'equal',
  'notEqual',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
] as const;

/** json-rules-engine's built-in operator decorators, written "decorator:operator". */
export const OPERATOR_DECORATORS = ['someFact', 'someValue', 'everyFact', 'everyValue', 'swap', 'not'] as const;
