import { APPOINTMENT_STATUS_RANK, appointmentStatus, type Appointment, type AppointmentStatus, type ResponseKind, type StaffReason } from '../domain.js';
import type { ChoiceOption, PendingChoice } from '../domain.js';
import type { ActionContext, ActionDefinition, ActionResult } from './types.js';

interface TransitionSpec {
  name: string;
  doc: string;
  /** The response it records, over any status the patient sees that ranks below (APPOINTMENT_STATUS_RANK). */
  to: ResponseKind;
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
 * Builds an action that records a patient's response on the soonest upcoming appointment
 * among all patients on the number (a family phone), and reports why not when the
 * patient already sees that status or beyond. The move is one atomic store command that
 * also reads the state, so the outcome always describes what this message did. A message
 * older than the patient's standing response (a late replay) changes nothing and is
 * audited as `stale`: responses follow the order patients texted. The response carries the message's sid, so a retry of a message whose move was written
 * before its completion failed still finds the move was its own (docs/events.md).
 */
function transitionAction(spec: TransitionSpec): ActionDefinition {
  const outcomes = [...new Set([spec.done, ...Object.values(spec.blocked), NO_APPOINTMENT, STALE])];
  return {
    name: spec.name,
    doc: spec.doc,
    outcomes: [...outcomes, SEVERAL],
    async run(ctx): Promise<ActionResult> {
      const { pending, answer, chosen } = ctx.choice;
      if (pending && answer === 'chosen' && pending.action === spec.name) {
        return applyToChosen(spec, ctx, pending, chosen);
      }
      const sid = ctx.message.messageSid;
      if (ctx.dryRun) {
        // Nothing is written: the outcome the move would have, from the (shared) look-up.
        const next = await ctx.nextAppointment();
        if (!next) {
          return { outcome: NO_APPOINTMENT, appointment: null };
        }
        return APPOINTMENT_STATUS_RANK[appointmentStatus(next)] < APPOINTMENT_STATUS_RANK[spec.to]
          ? doneResult(spec, next, { ...next, patientResponse: { kind: spec.to, at: ctx.receivedAt, messageSid: sid } })
          : blockedResult(spec, next);
      }
      const ids = ctx.patients.map((p) => p.id);
      const { before, after } = await ctx.store.advanceNextAppointment(ctx.clinic.id, ids, ctx.now, spec.to, { at: ctx.receivedAt, messageSid: sid });
      return judge(spec, ctx, before, after);
    },
  };
}

/** What a move did: no appointment, stale (a newer response stands), blocked, or done (routed to staff when staff make the change). */
async function judge(spec: TransitionSpec, ctx: ActionContext, before: Appointment | null, after: Appointment | null): Promise<ActionResult> {
  const sid = ctx.message.messageSid;
  if (!before || !after) {
    return { outcome: NO_APPOINTMENT, appointment: null };
  }
  // This message's move: just made, or made by its own earlier attempt (same sid).
  const retried = before.patientResponse?.messageSid === sid;
  const standing = after.patientResponse;
  if (!retried && standing && standing.at > ctx.receivedAt) {
    // The patient answered since this message arrived (a late replay): their newer word stands.
    return { outcome: STALE, appointment: after, detail: { appointmentId: after.id, status: appointmentStatus(after), newerAt: standing.at.toISOString() } };
  }
  if (!retried && appointmentStatus(before) === appointmentStatus(after)) {
    return blockedResult(spec, after);
  }
  if (spec.toStaff) {
    await ctx.staff.routed({ clinicId: ctx.clinic.id, message: ctx.message, patients: ctx.patients, at: ctx.now, reason: spec.toStaff, appointmentId: after.id });
  }
  // A retry whose first attempt made the move: what it was before is not known any more.
  return doneResult(spec, retried ? null : before, after);
}

/** The outcome of an answer that chose several appointments (ALL); each gets its own audit record and event. */
const SEVERAL = 'several';

/**
 * Applies the action a family's question asked for to the appointments they chose, each on
 * its own (advanceAppointment), as the soonest one would be without the question.
 */
async function applyToChosen(spec: TransitionSpec, ctx: ActionContext, question: PendingChoice, chosen: readonly ChoiceOption[]): Promise<ActionResult> {
  const results: ActionResult[] = [];
  for (const option of chosen) {
    results.push(await applyToOne(spec, ctx, option.appointmentId));
  }
  const choice = { question, chosen };
  const [first] = results;
  if (results.length === 1 && first) {
    return { ...first, choice };
  }
  return { outcome: SEVERAL, appointment: first?.appointment ?? null, detail: { appointments: results.length }, choice, also: results };
}

async function applyToOne(spec: TransitionSpec, ctx: ActionContext, appointmentId: string): Promise<ActionResult> {
  const sid = ctx.message.messageSid;
  const ids = ctx.patients.map((p) => p.id);
  if (ctx.dryRun) {
    const current = await ctx.store.getAppointment(appointmentId);
    if (!current || current.status === 'cancelled' || current.startsAt < ctx.now || !ids.includes(current.patientId)) {
      return { outcome: NO_APPOINTMENT, appointment: null };
    }
    return APPOINTMENT_STATUS_RANK[appointmentStatus(current)] < APPOINTMENT_STATUS_RANK[spec.to]
      ? doneResult(spec, current, { ...current, patientResponse: { kind: spec.to, at: ctx.receivedAt, messageSid: sid } })
      : blockedResult(spec, current);
  }
  const { before, after } = await ctx.store.advanceAppointment(ctx.clinic.id, ids, appointmentId, ctx.now, spec.to, { at: ctx.receivedAt, messageSid: sid });
  return judge(spec, ctx, before, after);
}

function doneResult(spec: TransitionSpec, before: Appointment | null, after: Appointment): ActionResult {
  return { outcome: spec.done, appointment: after, detail: { appointmentId: after.id, from: before ? appointmentStatus(before) : null, to: appointmentStatus(after) } };
}

function blockedResult(spec: TransitionSpec, current: Appointment): ActionResult {
  const status: AppointmentStatus = appointmentStatus(current);
  const outcome = spec.blocked[status] ?? 'change-pending';
  return { outcome, appointment: current, detail: { appointmentId: current.id, status } };
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
