import type { PendingChoice } from '../domain.js';
import { CHOICE_ACTION_BY_COMMAND, choiceOptions } from '../rules/choice.js';
import type { ActionDefinition } from './types.js';

/**
 * A family phone's appointment keyword: asks which patient's appointment it means ("Reply 1
 * for Dylan (...), 2 for Carla (...), or ALL") and keeps the question with the sender, so the
 * answer (on any instance) applies the keyword's action to the chosen appointments. Asked
 * again on an unclear answer. A question that does not fit in settings.choiceMaxSegments
 * SMS segments is not asked: the message goes to staff with the list instead.
 */
export const askWhichAppointmentAction: ActionDefinition = {
  name: 'ask-which-appointment',
  doc: "asks which patient's appointment a family phone's CONFIRM, CANCEL or RESCHEDULE means (1, 2, ALL or a first name), or asks again after an unclear answer; too many to list: to staff with the list",
  outcomes: ['asked', 'too-many', 'not-asked'],
  async run(ctx) {
    const { pending, answer } = ctx.choice;
    let question: PendingChoice;
    if (pending && answer === 'unclear') {
      question = { ...pending, attempts: pending.attempts + 1 };
    } else {
      const action = CHOICE_ACTION_BY_COMMAND[ctx.command];
      const options = choiceOptions(await ctx.upcoming(), ctx.patients);
      if (!action || options.length < 2) {
        return { outcome: 'not-asked' };
      }
      question = {
        action,
        options,
        messageSid: ctx.message.messageSid,
        askedAt: ctx.receivedAt,
        expiresAt: new Date(ctx.now.getTime() + ctx.settings.choiceExpiresHours * 3_600_000),
        attempts: 0,
        language: ctx.language,
      };
    }
    const detail = { action: question.action, options: question.options.length, attempts: question.attempts };
    if (!ctx.questionFits(question.options)) {
      if (!ctx.dryRun) {
        await ctx.staff.routed({ clinicId: ctx.clinic.id, message: ctx.message, patients: ctx.patients, at: ctx.now, reason: 'message' });
      }
      return { outcome: 'too-many', detail, choice: { question, chosen: [] } };
    }
    if (!ctx.dryRun) {
      await ctx.store.saveChoice(ctx.clinic.id, ctx.message.from, question);
    }
    return { outcome: 'asked', detail, choice: { question, chosen: [] } };
  },
};
