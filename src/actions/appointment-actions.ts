import { APPOINTMENT_STATUS_RANK, type Appointment, type AppointmentStatus, type StaffReason } from '../domain.js';
import type { ActionDefinition, ActionResult } from './types.js';

interface TransitionSpec {
  name: string;
  doc: string;
  /** The status it moves to, from any status ranked below (APPOINTMENT_STATUS_RANK). */
  to: AppointmentStatus;
  /** The outcome when the move happens. */
  done: string;
  /** Outcome by the current status when the soonest appointment cannot move. */
  blocked: Partial<Record<AppointmentStatus, string>>;
  /** Why the message goes to staff when the move happens (staff make the actual change). */
  toStaff?: Extract<StaffReason, 'cancel-request' | 'reschedule-request'>;
}

const NO_APPOINTMENT = 'no-appointment';
/** The appointment's last patient response is newer than this message (a late replay): nothing changed. */
const STALE = 'stale';

/**
 * Builds an action that moves the soonest upcoming appointment among all patients on
 * the number (a family phone) up to a status, and reports why not when it already is
 * there or beyond. The move is one atomic store command that also reads the state, so
 * the outcome always describes what this message did.
 */
function transitionAction(spec: TransitionSpec): ActionDefinition {
  const outcomes = [...new Set([spec.done, ...Object.values(spec.blocked), NO_APPOINTMENT, STALE])];
  return {
    name: spec.name,
    doc: spec.doc,
    outcomes,
    async run(ctx): Promise<ActionResult> {
      if (ctx.dryRun) {
        // Nothing is written: the outcome the move would have, from the (shared) look-up.
        const next = await ctx.nextAppointment();
        if (!next) {
          return { outcome: NO_APPOINTMENT, appointment: null };
        }
        return APPOINTMENT_STATUS_RANK[next.status] < APPOINTMENT_STATUS_RANK[spec.to]
          ? doneResult(spec, next, { ...next, status: spec.to })
          : blockedResult(spec, next);
      }
      const ids = ctx.patients.map((p) => p.id);
      const { before, after } = await ctx.store.advanceNextAppointment(ctx.clinic.id, ids, ctx.now, spec.to, ctx.receivedAt);
      if (!before || !after) {
        return { outcome: NO_APPOINTMENT, appointment: null };
      }
      if (before.status === after.status && after.updatedAt && after.updatedAt > ctx.receivedAt) {
        // The patient answered since this message was sent: their newer word stands.
        return { outcome: STALE, appointment: after, detail: { appointmentId: after.id, status: after.status, newerAt: after.updatedAt.toISOString() } };
      }
      if (before.status === after.status) {
        return blockedResult(spec, after);
      }
      if (spec.toStaff) {
        await ctx.staff.routed({ clinicId: ctx.clinic.id, message: ctx.message, patients: ctx.patients, at: ctx.now, reason: spec.toStaff, appointmentId: after.id });
      }
      return doneResult(spec, before, after);
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

export const confirmAppointmentAction = transitionAction({
  name: 'confirm-appointment',
  doc: 'confirms the soonest upcoming appointment among the patients on the number',
  to: 'confirmed',
  done: 'confirmed',
  blocked: { confirmed: 'already-confirmed', 'cancel-requested': 'change-pending', 'reschedule-requested': 'change-pending' },
});

export const cancelAppointmentAction = transitionAction({
  name: 'cancel-appointment',
  doc: "marks the soonest upcoming appointment cancel-requested and puts the request in the sender's staff conversation",
  to: 'cancel-requested',
  done: 'cancel-requested',
  blocked: { 'cancel-requested': 'already-requested' },
  toStaff: 'cancel-request',
});

export const rescheduleAppointmentAction = transitionAction({
  name: 'reschedule-appointment',
  doc: "marks the soonest upcoming appointment reschedule-requested and puts the request in the sender's staff conversation",
  to: 'reschedule-requested',
  done: 'reschedule-requested',
  blocked: { 'reschedule-requested': 'already-requested', 'cancel-requested': 'change-pending' },
  toStaff: 'reschedule-request',
});
