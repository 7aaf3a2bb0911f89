import type { Appointment, AppointmentStatus, InboxKind } from '../domain.js';
import type { ActionContext, ActionDefinition, ActionResult } from './types.js';

interface TransitionSpec {
  name: string;
  doc: string;
  /** Statuses the appointment may move from. */
  from: readonly AppointmentStatus[];
  to: AppointmentStatus;
  /** The outcome when the move happens. */
  done: string;
  /** Outcome by the current status when the soonest appointment cannot move. */
  blocked: Partial<Record<AppointmentStatus, string>>;
  /** Staff inbox item kind written when the move happens. */
  inbox?: InboxKind;
}

const NO_APPOINTMENT = 'no-appointment';

/**
 * Builds an action that moves the soonest upcoming appointment among all patients on
 * the number (a family phone) from one status to another, and reports why not.
 */
function transitionAction(spec: TransitionSpec): ActionDefinition {
  const outcomes = [...new Set([spec.done, ...Object.values(spec.blocked), NO_APPOINTMENT])];
  return {
    name: spec.name,
    doc: spec.doc,
    outcomes,
    async run(ctx): Promise<ActionResult> {
      const next = await ctx.nextAppointment();
      if (!next) {
        return { outcome: NO_APPOINTMENT, appointment: null };
      }
      if (!spec.from.includes(next.status)) {
        return blockedResult(spec, next);
      }
      if (ctx.dryRun) {
        return doneResult(spec, next, { ...next, status: spec.to });
      }
      const ids = ctx.patients.map((p) => p.id);
      const moved = await ctx.store.transitionNextAppointment(ctx.clinic.id, ids, ctx.now, spec.from, spec.to);
      if (!moved.before || !moved.after) {
        // Changed by someone else between the look-up and the update: report the state now.
        const fresh = await ctx.store.findNextAppointment(ctx.clinic.id, ids, ctx.now);
        return fresh ? blockedResult(spec, fresh) : { outcome: NO_APPOINTMENT, appointment: null };
      }
      if (spec.inbox) {
        await addRequest(ctx, spec.inbox, moved.after);
      }
      return doneResult(spec, moved.before, moved.after);
    },
  };
}

function doneResult(spec: TransitionSpec, before: Appointment, after: Appointment): ActionResult {
  return { outcome: spec.done, appointment: after, detail: { appointmentId: after.id, from: before.status, to: after.status } };
}

function blockedResult(spec: TransitionSpec, current: Appointment): ActionResult {
  const outcome = spec.blocked[current.status] ?? 'change-pending';
  return { outcome, appointment: current, detail: { appointmentId: current.id, status: current.status } };
}

async function addRequest(ctx: ActionContext, kind: InboxKind, appointment: Appointment): Promise<void> {
  await ctx.store.addInboxItem({
    id: `${ctx.message.messageSid}:${kind}`,
    clinicId: ctx.clinic.id,
    kind,
    messageSid: ctx.message.messageSid,
    from: ctx.message.from,
    patientIds: ctx.patients.map((p) => p.id),
    appointmentId: appointment.id,
    body: ctx.message.body,
    media: ctx.message.media.map((m) => ({ url: m.url, contentType: m.contentType })),
    createdAt: ctx.now,
    status: 'open',
  });
}

export const confirmAppointmentAction = transitionAction({
  name: 'confirm-appointment',
  doc: 'confirms the soonest upcoming appointment among the patients on the number',
  from: ['scheduled'],
  to: 'confirmed',
  done: 'confirmed',
  blocked: { confirmed: 'already-confirmed', 'cancel-requested': 'change-pending', 'reschedule-requested': 'change-pending' },
});

export const cancelAppointmentAction = transitionAction({
  name: 'cancel-appointment',
  doc: 'marks the soonest upcoming appointment cancel-requested and puts a cancel request in the staff inbox',
  from: ['scheduled', 'confirmed', 'reschedule-requested'],
  to: 'cancel-requested',
  done: 'cancel-requested',
  blocked: { 'cancel-requested': 'already-requested' },
  inbox: 'cancel-request',
});

export const rescheduleAppointmentAction = transitionAction({
  name: 'reschedule-appointment',
  doc: 'marks the soonest upcoming appointment reschedule-requested and puts a reschedule request in the staff inbox',
  from: ['scheduled', 'confirmed'],
  to: 'reschedule-requested',
  done: 'reschedule-requested',
  blocked: { 'reschedule-requested': 'already-requested', 'cancel-requested': 'change-pending' },
  inbox: 'reschedule-request',
});
