import type { ActionDefinition } from './types.js';

/** Puts the message in front of staff: the sender's conversation opens (or reopens), and its thread shows the message and its media. */
export const routeToStaffAction: ActionDefinition = {
  name: 'route-to-staff',
  doc: "puts the message (and its photos/files) in the sender's staff conversation, opening or reopening it",
  outcomes: ['routed'],
  async run(ctx) {
    if (!ctx.dryRun) {
      await ctx.staff.routed({ clinicId: ctx.clinic.id, message: ctx.message, patients: ctx.patients, at: ctx.now, reason: 'message' });
    }
    return { outcome: 'routed', detail: { mediaCount: ctx.message.media.length } };
  },
};
