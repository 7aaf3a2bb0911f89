import { createHash } from 'node:crypto';

/** Every event type a message can produce (`ping` is only sent by `events send-test`). */
export const EVENT_TYPES = [
  'appointment.confirmed',
  'appointment.cancel_requested',
  'appointment.reschedule_requested',
  'consent.opted_out',
  'consent.opted_in',
  'message.routed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A value an event's thin `data` may hold: ids, statuses, times (ISO text), counts. */
export type EventValue = string | number | boolean | null | readonly string[];

/**
 * One event a message produced, as it rides in the message's completion write (the
 * outbox) and later in each delivery. `data` is thin: ids, statuses and times; the
 * sender's phone only in consent events; never a body or a name (docs/events.md).
 */
export interface OutboxEvent {
  /** Deterministic: eventId(messageSid, type, subject); the `webhook-id` of every attempt. */
  id: string;
  type: EventType;
  clinicId: string;
  messageSid: string;
  /** When it happened (the envelope's `timestamp`). */
  occurredAt: Date;
  /** When the message arrived: the start of the delivery latency measured to the receiver's 2xx. */
  receivedAt: Date;
  data: Record<string, EventValue>;
}

/** The Standard Webhooks envelope sent as the request body. */
export interface EventEnvelope {
  type: EventType | 'ping';
  timestamp: string;
  data: Record<string, EventValue>;
}

/**
 * The event id: the same MessageSid, type and subject (the appointment id, or the
 * sender for consent events) always give the same id, so a retried, replayed or
 * taken-over message never makes a second event. Hashed so that no phone number
 * (a consent event's subject) shows in an id that is logged and sent as a header.
 * @param messageSid - the message that caused it
 * @param type - the event type
 * @param subject - what it is about
 */
export function eventId(messageSid: string, type: string, subject: string): string {
  const digest = createHash('sha256').update(`${messageSid}\u0000${type}\u0000${subject}`).digest('base64url');
  return `evt_${digest.slice(0, 27)}`;
}

/** True when `value` names one of EVENT_TYPES. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}

/** The body of an event, serialized once and sent byte for byte on every attempt. */
export function envelopeOf(event: Pick<OutboxEvent, 'type' | 'occurredAt' | 'data'>): EventEnvelope {
  return { type: event.type, timestamp: event.occurredAt.toISOString(), data: event.data };
}
