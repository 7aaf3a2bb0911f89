import { wants, type EventEndpoint } from '../config/event-endpoints.js';
import { envelopeOf, type OutboxEvent } from './event-types.js';
import type { PendingOutbox, Store } from '../store/store.js';
import type { EventDelivery, EventOutboxStore } from './outbox-store.js';
import { Relay, type RelayTiming } from '../jobs/relay.js';
import { EPOCH } from '../jobs/retry-schedule.js';

export interface RelayOptions extends RelayTiming {
  /** The messages' store: the events ride in a completion write, flagged pending until copied. */
  source: Pick<Store, 'pendingOutboxes' | 'clearOutbox'>;
  store: EventOutboxStore;
  /** The clinic's endpoints as configured now. */
  endpointsFor: (clinicId: string) => readonly EventEndpoint[];
}

/**
 * Copies message outboxes into deliveries, one per event and endpoint that takes its
 * type, then clears the message's flag: the jobs kit's relay (src/jobs/relay.ts) on the
 * Store port's pending outboxes.
 * @param options - the messages' store, the events store, the endpoints live now
 */
export function outboxRelay(options: RelayOptions): Relay<PendingOutbox> {
  const clock = options.clock ?? ((): Date => new Date());
  let disabled = new Set<string>();
  return new Relay<PendingOutbox>({
    ...options,
    name: 'events',
    async pending(limit) {
      const pending = await options.source.pendingOutboxes(limit);
      // The endpoints a 410 disabled: their deliveries are made failed at once.
      disabled = pending.length > 0 ? await options.store.disabledEndpoints() : disabled;
      return pending;
    },
    async toJobs(outbox) {
      const now = clock();
      const deliveries = outbox.events.flatMap((event) =>
        options
          .endpointsFor(event.clinicId)
          .filter((e) => wants(e, event.type))
          .map((e) => toDelivery(event, e, now, disabled.has(e.id))),
      );
      return deliveries.length > 0 ? options.store.addJobs(deliveries) : 0;
    },
    clear: (outbox) => options.source.clearOutbox(outbox.messageSid),
  });
}

/**
 * The delivery of one event to one endpoint, due at once (or failed at once when the
 * endpoint was disabled by a 410).
 */
export function toDelivery(event: OutboxEvent, endpoint: EventEndpoint, now: Date, disabled = false): EventDelivery {
  const delivery: EventDelivery = {
    id: `${event.id}.${endpoint.id}`,
    eventId: event.id,
    clinicId: event.clinicId,
    type: event.type,
    endpointId: endpoint.id,
    url: endpoint.url,
    envelope: envelopeOf(event),
    messageSid: event.messageSid,
    receivedAt: event.receivedAt,
    createdAt: now,
    status: disabled ? 'failed' : 'pending',
    attempts: 0,
    nextAttemptAt: now,
    lockedUntil: EPOCH,
  };
  if (disabled) {
    delivery.lastError = 'endpoint disabled (410 Gone)';
  }
  return delivery;
}
