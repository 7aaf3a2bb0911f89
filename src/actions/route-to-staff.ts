import type { ActionDefinition } from './types.js';

/** Puts the message and its media list in the staff inbox (one item per message, replay-safe id). */
export const routeToStaffAction: ActionDefinition = {
  name: 'route-to-staff',
  doc: 'puts the message and its media list in the clinic\'s staff inbox',
  outcomes: ['routed'],
  async run(ctx) {
    if (!ctx.dryRun) {
      await ctx.store.addInboxItem({
        id: `${ctx.message.messageSid}:message`,
        clinicId: ctx.clinic.id,
        kind: 'message',
        messageSid: ctx.message.messageSid,
        from: ctx.message.from,
        patientIds: ctx.patients.map((p) => p.id),
        body: ctx.message.body,
        media: ctx.message.media.map((m) => ({ url: m.url, contentType: m.contentType })),
        createdAt: ctx.now,
        status: 'open',
      });
    }
    return { outcome: 'routed', detail: { mediaCount: ctx.message.media.length } };
  },
};
