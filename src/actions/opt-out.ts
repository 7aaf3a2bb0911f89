import type { ActionDefinition } from './types.js';

/** Records the opt-out of the sender's number for this clinic (per clinic and phone, not per patient). */
export const optOutAction: ActionDefinition = {
  name: 'opt-out',
  doc: 'opts the sender\'s number out of this clinic\'s texts (per clinic and phone number)',
  outcomes: ['opted-out', 'already-opted-out'],
  async run(ctx) {
    if (!ctx.dryRun) {
      await ctx.store.setOptOut({
        clinicId: ctx.clinic.id,
        phone: ctx.message.from,
        optedOut: true,
        changedAt: ctx.now,
        messageSid: ctx.message.messageSid,
        keyword: ctx.keyword,
      });
    }
    return { outcome: ctx.optedOut ? 'already-opted-out' : 'opted-out' };
  },
};
