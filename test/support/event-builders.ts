import { randomUUID } from 'node:crypto';
import { endpointId, type EventEndpoint } from '../../src/config/event-endpoints.js';
import { eventId, type EventType, type OutboxEvent } from '../../src/events/event-types.js';
import type { EventDelivery } from '../../src/events/outbox-store.js';
import { toDelivery } from '../../src/events/relay.js';

/** A fresh `whsec_` secret. */
export const newSecret = (): string => `whsec_${Buffer.from(randomUUID() + randomUUID()).toString('base64')}`;

export function anEvent(overrides: Partial<OutboxEvent> & { clinicId: string }): OutboxEvent {
  const messageSid = overrides.messageSid ?? `SM${randomUUID().replace(/-/g, '')}`;
  const type: EventType = overrides.type ?? 'appointment.confirmed';
  const at = new Date('2026-11-30T18:00:00Z');
  return {
    id: eventId(messageSid, type, 'a-1'),
    type,
    messageSid,
    occurredAt: at,
    receivedAt: at,
    data: { clinicId: overrides.clinicId, appointmentId: 'a-1', messageSid, status: 'confirmed' },
    ...overrides,
  };
}

export function anEndpoint(overrides: Partial<EventEndpoint> & { clinicId: string; url?: string }): EventEndpoint {
  const url = overrides.url ?? `https://pms.example.test/hooks/${randomUUID().slice(0, 6)}`;
  return { id: endpointId(overrides.clinicId, url), url, types: null, secrets: [newSecret()], ...overrides };
}

/** A pending delivery due at `now`. */
export function aDelivery(overrides: Partial<OutboxEvent> & { clinicId: string }, endpoint?: EventEndpoint, now = new Date('2026-11-30T18:00:00Z')): EventDelivery {
  return toDelivery(anEvent(overrides), endpoint ?? anEndpoint({ clinicId: overrides.clinicId }), now);
}

/**
 * A clinics file with downtown alone, one event endpoint at `url`, its secret in
 * DOWNTOWN_EVENTS_SECRET: what the tests that start a whole service with events write.
 * @param phone - downtown's number
 * @param url - the receiver's URL
 */
export function downtownWithEndpoint(phone: string, url: string): string {
  return `clinics:
  - id: downtown
    name: Downtown Family Clinic
    phoneNumbers: ["${phone}"]
    timezone: America/Chicago
    rateLimitPerMinute: 50
    events:
      - url: ${url}
        secretEnv: DOWNTOWN_EVENTS_SECRET
`;
}
