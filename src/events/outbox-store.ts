import type { EventType, EventEnvelope } from './event-types.js';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One event on its way to one endpoint (the `events` collection holds one document a
 * delivery). Endpoints deliver independently: each has its own attempts, schedule and
 * lease. Its id is the event id and the endpoint id, so the relay can copy the same
 * outbox again and only meet duplicate keys.
 */
export interface EventDelivery {
  /** `<eventId>.<endpointId>`. */
  id: string;
  /** The `webhook-id` of every attempt. */
  eventId: string;
  clinicId: string;
  type: EventType;
  endpointId: string;
  /** The URL when it was queued (shown by `events list`; attempts use the configured one). */
  url: string;
  envelope: EventEnvelope;
  messageSid: string;
  /** When the message arrived: the delivery latency runs from here to the receiver's 2xx. */
  receivedAt: Date;
  createdAt: Date;
  status: DeliveryStatus;
  /** Attempts made so far, over its whole life: a replay keeps them (the delivery history) and adds itself to `replays`. */
  attempts: number;
  /** Each `events replay` of this delivery, oldest first: when, and where it stood then. The retry schedule restarts after the last one. */
  replays?: DeliveryReplay[];
  /** When it may be attempted next (pending only). */
  nextAttemptAt: Date;
  /** A lease holds it until then; the epoch when nobody holds it. */
  lockedUntil: Date;
  lastAttemptAt?: Date;
  /** The receiver's last HTTP status (absent: no answer). */
  lastStatus?: number;
  /** Why the last attempt failed, in a few words (never a response body). */
  lastError?: string;
  deliveredAt?: Date;
}

/** One `events replay` in a delivery's history. */
export interface DeliveryReplay {
  at: Date;
  /** The attempts made before it (the schedule counts from here). */
  attemptsBefore: number;
  statusBefore: DeliveryStatus;
  lastErrorBefore?: string;
}

/** Attempts since the last replay (or since it was queued): what the retry schedule counts. */
export function attemptsSinceReplay(delivery: Pick<EventDelivery, 'attempts' | 'replays'>): number {
  return delivery.attempts - (delivery.replays?.at(-1)?.attemptsBefore ?? 0);
}

/** The replay record a requeue adds to a delivery's history. */
export function replayRecord(delivery: Pick<EventDelivery, 'attempts' | 'status' | 'lastError'>, at: Date): DeliveryReplay {
  return { at, attemptsBefore: delivery.attempts, statusBefore: delivery.status, ...(delivery.lastError === undefined ? {} : { lastErrorBefore: delivery.lastError }) };
}

/** A delivery this instance holds under a lease (the jobs kit's lease and token). */
export type LeasedDelivery = Leased<EventDelivery>;

/** What an attempt leaves behind. */
export interface AttemptResult {
  status: DeliveryStatus;
  attempts: number;
  at: Date;
  /** pending: the next try. */
  nextAttemptAt?: Date;
  lastStatus?: number;
  lastError?: string;
}

export interface DeliveryQuery {
  clinicId: string;
  status?: DeliveryStatus;
  type?: EventType;
  limit?: number;
}

/** Deliveries by clinic, type and status, and the oldest pending one (metrics, readiness). */
export interface OutboxStats {
  counts: { clinicId: string; type: string; status: DeliveryStatus; count: number }[];
  /** When the message of the oldest pending delivery arrived; null: none pending. */
  oldestPendingAt: Date | null;
}

import type { JobStore, Leased } from '../jobs/job-store.js';
import { EPOCH } from '../jobs/retry-schedule.js';

export { EPOCH };

/**
 * The events part of the store (memory-outbox-store.ts, mongo-outbox-store.ts), a port
 * of its own beside the Store: both pass test/contract/events-outbox.contract.ts and the
 * jobs kit's job-store contract. Its jobs are deliveries: due while pending; a lease's
 * `exclude` names endpoints this instance is busy with (one request at a time each).
 */
export interface EventOutboxStore extends JobStore<EventDelivery, AttemptResult> {
  readonly kind: 'memory' | 'mongo';
  /** Creates indexes. Safe to call again. */
  init(): Promise<void>;
  /** Newest first. */
  list(query: DeliveryQuery): Promise<EventDelivery[]>;
  /** The deliveries of an event id, or the one delivery of a delivery id. */
  find(id: string): Promise<EventDelivery[]>;
  /** Puts deliveries back to pending, due at `now`; keeps their attempts and adds the replay to `replays`. Returns how many. */
  requeue(filter: { ids: readonly string[] } | { clinicId: string; status: 'failed' }, now: Date): Promise<number>;
  /** Marks an endpoint disabled (410 Gone) and fails its pending deliveries; returns how many failed. */
  disableEndpoint(endpointId: string, at: Date, reason: string): Promise<number>;
  /** Enables the endpoints again. */
  enableEndpoints(endpointIds: readonly string[]): Promise<void>;
  disabledEndpoints(): Promise<Set<string>>;
  stats(): Promise<OutboxStats>;
  close(): Promise<void>;
}

/** The delivery after an attempt: the result applied, the lease released; no HTTP status or error left from an earlier attempt. */
export function afterAttempt(delivery: EventDelivery, result: AttemptResult): EventDelivery {
  const { lastStatus: _s, lastError: _e, ...rest } = delivery;
  return {
    ...rest,
    status: result.status,
    attempts: result.attempts,
    lastAttemptAt: result.at,
    lockedUntil: EPOCH,
    ...(result.nextAttemptAt ? { nextAttemptAt: result.nextAttemptAt } : {}),
    ...(result.status === 'delivered' ? { deliveredAt: result.at } : {}),
    ...(result.lastStatus === undefined ? {} : { lastStatus: result.lastStatus }),
    ...(result.lastError === undefined ? {} : { lastError: result.lastError }),
  };
}
