import type { ActionRecord } from '../domain.js';
import { eventId, type EventType, type EventValue, type OutboxEvent } from './event-types.js';

export interface ProduceInput {
  clinicId: string;
  messageSid: string;
  /** The sender (E.164): only consent events carry it. */
  from: string;
  patientIds: readonly string[];
  /** When the message arrived (for a replay: when it first arrived). */
  receivedAt: Date;
  /** When the actions ran. */
  at: Date;
  /** What the actions did (the message's audit record). */
  actions: readonly ActionRecord[];
}

const APPOINTMENT_EVENTS: Readonly<Record<string, { outcome: string; type: EventType }>> = {
  'confirm-appointment': { outcome: 'confirmed', type: 'appointment.confirmed' },
  'cancel-appointment': { outcome: 'cancel-requested', type: 'appointment.cancel_requested' },
  'reschedule-appointment': { outcome: 'reschedule-requested', type: 'appointment.reschedule_requested' },
};

/**
 * The events a message's actions produce, with their deterministic ids: an appointment
 * that moved, a consent keyword (every STOP or START, including from unknown numbers,
 * with `changed` saying whether the state moved), a message put in front of staff.
 * Thin data only (docs/events.md): ids, statuses, times; the phone only in consent
 * events; never a body or a name.
 * @param input - the message's ids, times and action records
 */
export function produceEvents(input: ProduceInput): OutboxEvent[] {
  const events: OutboxEvent[] = [];
  const base = { clinicId: input.clinicId, messageSid: input.messageSid, occurredAt: input.at, receivedAt: input.receivedAt };
  const add = (type: EventType, subject: string, data: Record<string, EventValue>): void => {
    const id = eventId(input.messageSid, type, subject);
    if (!events.some((e) => e.id === id)) {
      events.push({ ...base, id, type, data: { ...data } });
    }
  };
  const common = { clinicId: input.clinicId, messageSid: input.messageSid, patientIds: [...input.patientIds] };
  for (const action of input.actions) {
    const appointment = APPOINTMENT_EVENTS[action.type];
    if (appointment && action.outcome === appointment.outcome && typeof action.detail?.appointmentId === 'string') {
      const appointmentId = action.detail.appointmentId;
      add(appointment.type, appointmentId, {
        ...common,
        appointmentId,
        status: String(action.detail.to ?? appointment.outcome),
        previousStatus: typeof action.detail.from === 'string' ? action.detail.from : null,
        respondedAt: input.at.toISOString(),
      });
    } else if ((action.type === 'opt-out' || action.type === 'opt-in') && action.outcome !== 'stale') {
      // A stale change (older than the stored state: a replay after a newer STOP/START) is
      // audited on the message but not announced: the receiver would take it for the current state.
      const optedOut = action.type === 'opt-out';
      add(optedOut ? 'consent.opted_out' : 'consent.opted_in', `${input.clinicId}:${input.from}`, {
        ...common,
        phone: input.from,
        optedOut,
        changed: action.outcome === (optedOut ? 'opted-out' : 'opted-in'),
        // keyword: STOP, START and their variants; phrase: a plain-language opt-out (rules/README.md).
        via: action.detail?.via === 'phrase' ? 'phrase' : 'keyword',
        // Consent applies by the time the patient texted (kept through the spool).
        changedAt: input.receivedAt.toISOString(),
      });
    } else if (action.type === 'route-to-staff' && action.outcome === 'routed') {
      add('message.routed', input.messageSid, {
        ...common,
        mediaCount: typeof action.detail?.mediaCount === 'number' ? action.detail.mediaCount : 0,
        // route-to-staff's priority and its reason (records written before they existed: normal, null).
        priority: action.detail?.priority === 'urgent' ? 'urgent' : 'normal',
        reason: typeof action.detail?.reason === 'string' ? action.detail.reason : null,
        // The message may revoke consent in plain words: the receiver should treat it as a possible opt-out.
        possibleOptOut: action.detail?.possibleOptOut === true,
        receivedAt: input.receivedAt.toISOString(),
      });
    }
  }
  return events;
}
