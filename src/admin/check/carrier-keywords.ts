/**
 * Words carriers and Twilio act on before (or besides) our service: Twilio's default
 * opt-out handling blocks further texts after STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
 * QUIT (and, since the FCC's April 2025 revocation rule, REVOKE and OPTOUT), lifts the
 * block on START, YES and UNSTOP, and answers HELP and INFO itself.
 * https://help.twilio.com/articles/223134027
 */

export type CarrierWordKind = 'opt-out' | 'opt-in' | 'help';

export const CARRIER_WORDS: ReadonlyMap<string, CarrierWordKind> = new Map([
  ['STOP', 'opt-out'],
  ['STOPALL', 'opt-out'],
  ['UNSUBSCRIBE', 'opt-out'],
  ['CANCEL', 'opt-out'],
  ['END', 'opt-out'],
  ['QUIT', 'opt-out'],
  ['REVOKE', 'opt-out'],
  ['OPTOUT', 'opt-out'],
  ['START', 'opt-in'],
  ['UNSTOP', 'opt-in'],
  ['YES', 'opt-in'],
  ['HELP', 'help'],
  ['INFO', 'help'],
]);

/** The actions that do what carriers do with each kind of word. */
export const ACTIONS_FOR_KIND: Readonly<Record<CarrierWordKind, readonly string[]>> = {
  'opt-out': ['opt-out'],
  'opt-in': ['opt-in'],
  help: ['help'],
};

/** What Twilio does on its own when a patient sends a word of this kind, for warnings. */
export const CARRIER_BEHAVIOUR: Readonly<Record<CarrierWordKind, string>> = {
  'opt-out': 'Twilio and carriers treat it as an opt-out: the number stops getting any text from the clinic until it sends START',
  'opt-in': 'Twilio treats it as an opt-in: it lifts a STOP block on the number',
  help: 'Twilio answers it with the account\'s own HELP text',
};
