import type { ActionDefinition } from './types.js';

/**
 * Puts the message in front of staff: the sender's conversation opens (or reopens), and its
 * thread shows the message and its media. `priority: urgent` (with a short `reason`) puts the
 * conversation first in staff's lists; the routed event carries both.
 */
export const routeToStaffAction: ActionDefinition = {
  name: 'route-to-staff',
  doc: "puts the message (and its photos/files) in the sender's staff conversation, opening or reopening it; priority: urgent puts it first",
  outcomes: ['routed'],
  async run(ctx) {
    const priority = ctx.params.priority ?? 'normal';
    const reason = ctx.params.reason ?? null;
    // A message that may revoke consent in plain words: staff see it marked (thread, list, event).
    const possibleOptOut = ctx.revocation.value === 'possible';
    if (!ctx.dryRun) {
      await ctx.staff.routed({
        clinicId: ctx.clinic.id,
        message: ctx.message,
        patients: ctx.patients,
        at: ctx.now,
        reason: 'message',
        priority,
        ...(reason === null ? {} : { priorityReason: reason }),
        ...(possibleOptOut ? { possibleOptOut: true as const } : {}),
      });
    }
    return { outcome: 'routed', detail: { mediaCount: ctx.message.media.length, priority, reason, ...(possibleOptOut ? { possibleOptOut: true } : {}) } };
  },
};
