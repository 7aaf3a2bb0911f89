import { createHash } from 'node:crypto';

export { EVENT_TYPES, type EventType, type EventValue, type OutboxEvent } from '../domain.js';
import type { EventType, EventValue, OutboxEvent } from '../domain.js';

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

export { isEventType } from '../config/event-endpoints.js';

/** The body of an event, serialized once and sent byte for byte on every attempt. */
export function envelopeOf(event: Pick<OutboxEvent, 'type' | 'occurredAt' | 'data'>): EventEnvelope {
  return { type: event.type, timestamp: event.occurredAt.toISOString(), data: event.data };
}
