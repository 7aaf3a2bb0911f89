import type { ActionDefinition } from './types.js';

/** HELP: changes nothing; the rule's template is the answer. Replies even to opted-out numbers. */
export const helpAction: ActionDefinition = {
  name: 'help',
  doc: 'answers a HELP request; the only action besides opt-in whose reply reaches an opted-out number',
  outcomes: ['help'],
  async run() {
    return { outcome: 'help' };
  },
};

/**
 * A safety answer ("if this is an emergency, call 911"): changes nothing; the rule's template
 * answers the message the patient just sent, even when the number is opted out (answering a
 * patient's own message is not a marketing or reminder text). Audited as `safety`, processed
 * over the rate limit like HELP, and listed by `rules check` with every other rule that may
 * text an opted-out number.
 */
export const safetyAction: ActionDefinition = {
  name: 'safety',
  doc: 'answers the message with a safety text (e.g. call 911); its reply reaches opted-out numbers too',
  outcomes: ['safety'],
  async run() {
    return { outcome: 'safety' };
  },
};

/** Changes nothing; the rule's template is the answer. */
export const replyOnlyAction: ActionDefinition = {
  name: 'reply-only',
  doc: 'changes nothing, only replies with the rule\'s template',
  outcomes: ['replied'],
  async run() {
    return { outcome: 'replied' };
  },
};

/** Changes nothing and makes sure no reply is sent (when it is the highest-priority rule with a say in the reply). */
export const noReplyAction: ActionDefinition = {
  name: 'no-reply',
  doc: 'changes nothing and sends no reply (lower-priority rules\' templates are not used)',
  outcomes: ['no-reply'],
  async run() {
    return { outcome: 'no-reply' };
  },
};
