/**
 * The codes of `rules check` warnings. A rule or a template may list some in `accept:`
 * to say "we know, and we want it this way": the warning then only counts in the summary.
 */
export const WARNING_CODES = [
  /** A higher-priority rule that halts matches every message this rule matches. */
  'unreachable-rule',
  /** A word carriers and Twilio act on by themselves (STOP, CANCEL, YES, HELP, ...) does something else here. */
  'carrier-word',
  /** A reply takes more SMS segments than allowed (--max-segments). */
  'reply-length',
  /** A clinic that lists es has a keyword or template without a Spanish variant. */
  'missing-spanish',
  /** A keyword rule meant for every sender never answers unknown numbers: the unknown-number rule halts first. */
  'unknown-number-shadow',
  /** A file in the rules folder that no clinic uses. */
  'unused-file',
  /** A closure in the clinics file whose last day has passed (cannot be accepted: remove it). */
  'past-closure',
] as const;

export type WarningCode = (typeof WARNING_CODES)[number];
