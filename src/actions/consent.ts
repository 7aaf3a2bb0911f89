import type { ActionDefinition } from './types.js';

/**
 * Builds the opt-out or opt-in action: the sender's number for this clinic (per clinic
 * and phone, not per patient) is marked opted out or back in.
 */
function consentAction(optedOut: boolean): ActionDefinition {
  const done = optedOut ? 'opted-out' : 'opted-in';
  const already = optedOut ? 'already-opted-out' : 'already-opted-in';
  return {
    name: optedOut ? 'opt-out' : 'opt-in',
    doc: optedOut ? "opts the sender's number out of this clinic's texts (per clinic and phone number)" : "opts the sender's number back in to this clinic's texts",
    outcomes: [done, already],
    async run(ctx) {
      if (!ctx.dryRun) {
        await ctx.store.setOptOut({
          clinicId: ctx.clinic.id,
          phone: ctx.message.from,
          optedOut,
          changedAt: ctx.now,
          messageSid: ctx.message.messageSid,
          keyword: ctx.keyword,
        });
      }
      return { outcome: ctx.optedOut === optedOut ? already : done };
    },
  };
}

export const optOutAction = consentAction(true);
export const optInAction = consentAction(false);
