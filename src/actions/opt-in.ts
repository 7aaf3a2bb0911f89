import type { ActionDefinition } from './types.js';

/** Clears the opt-out of the sender's number for this clinic. */
export const optInAction: ActionDefinition = {
  name: 'opt-in',
  doc: 'opts the sender\'s number back in to this clinic\'s texts',
  outcomes: ['opted-in', 'already-opted-in'],
  async run(ctx) {
    if (!ctx.dryRun) {
      await ctx.store.setOptOut({
        clinicId: ctx.clinic.id,
        phone: ctx.message.from,
        optedOut: false,
        changedAt: ctx.now,
        messageSid: ctx.message.messageSid,
        keyword: ctx.keyword,
      });
    }
    return { outcome: ctx.optedOut ? 'opted-in' : 'already-opted-in' };
  },
};
