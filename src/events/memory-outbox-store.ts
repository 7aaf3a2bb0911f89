import { randomUUID } from 'node:crypto';
import { EPOCH, replayRecord, type AttemptResult, type DeliveryQuery, type EventDelivery, type EventOutboxStore, type LeasedDelivery, type OutboxStats } from './outbox-store.js';

/**
 * The embedded store's events part: plain Maps, copies in and out (like the Store's
 * memory adapter), nothing kept across restarts. It keeps the newest `maxFinished`
 * delivered deliveries; failed and pending ones are never dropped.
 */
export class MemoryEventOutboxStore implements EventOutboxStore {
  readonly kind = 'memory' as const;
  private readonly deliveries = new Map<string, { delivery: EventDelivery; token: string | null }>();
  /** Ids of pending deliveries: what a lease looks at. */
  private readonly pending = new Set<string>();
  /** Ids of delivered ones, oldest first: what goes when there are too many. */
  private readonly delivered = new Set<string>();
  private readonly disabled = new Map<string, { at: Date; reason: string }>();
  private readonly maxFinished: number;

  constructor(options: { maxFinished?: number } = {}) {
    this.maxFinished = options.maxFinished ?? 50_000;
  }

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  async addDeliveries(deliveries: readonly EventDelivery[]): Promise<number> {
    let added = 0;
    for (const d of deliveries) {
      if (this.deliveries.has(d.id)) {
        continue;
      }
      this.deliveries.set(d.id, { delivery: structuredClone(d), token: null });
      this.index(d);
      added += 1;
    }
    return added;
  }

  private index(d: EventDelivery): void {
    this.pending.delete(d.id);
    this.delivered.delete(d.id);
    if (d.status === 'pending') {
      this.pending.add(d.id);
    } else if (d.status === 'delivered') {
      this.delivered.add(d.id);
      for (const oldest of this.delivered) {
        if (this.delivered.size <= this.maxFinished) {
          break;
        }
        this.delivered.delete(oldest);
        this.deliveries.delete(oldest);
      }
    }
  }

  async lease(now: Date, leaseMs: number, excludeEndpoints: readonly string[]): Promise<LeasedDelivery | null> {
    let best: { delivery: EventDelivery; token: string | null } | undefined;
    for (const id of this.pending) {
      const entry = this.deliveries.get(id);
      const d = entry?.delivery;
      if (!entry || !d || d.nextAttemptAt > now || d.lockedUntil > now || excludeEndpoints.includes(d.endpointId)) {
        continue;
      }
      if (!best || d.nextAttemptAt < best.delivery.nextAttemptAt) {
        best = entry;
      }
    }
    if (!best) {
      return null;
    }
    best.token = randomUUID();
    best.delivery.lockedUntil = new Date(now.getTime() + leaseMs);
    return { delivery: structuredClone(best.delivery), token: best.token };
  }

  async finishAttempt(leased: LeasedDelivery, result: AttemptResult): Promise<boolean> {
    const entry = this.deliveries.get(leased.delivery.id);
    if (!entry || entry.token !== leased.token) {
      return false;
    }
    entry.token = null;
    entry.delivery = { ...entry.delivery, ...applyResult(result) };
    cleanOptional(entry.delivery, result);
    this.index(entry.delivery);
    return true;
  }

  async list(query: DeliveryQuery): Promise<EventDelivery[]> {
    const out = [...this.deliveries.values()]
      .map((e) => e.delivery)
      .filter((d) => d.clinicId === query.clinicId && (query.status === undefined || d.status === query.status) && (query.type === undefined || d.type === query.type))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
    return structuredClone(out.slice(0, query.limit ?? 100));
  }

  async find(id: string): Promise<EventDelivery[]> {
    const out = [...this.deliveries.values()].map((e) => e.delivery).filter((d) => d.id === id || d.eventId === id);
    return structuredClone(out.sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  async requeue(filter: { ids: readonly string[] } | { clinicId: string; status: 'failed' }, now: Date): Promise<number> {
    let n = 0;
    for (const entry of this.deliveries.values()) {
      const d = entry.delivery;
      const match = 'ids' in filter ? filter.ids.includes(d.id) : d.clinicId === filter.clinicId && d.status === 'failed';
      if (!match) {
        continue;
      }
      entry.token = null;
      entry.delivery = { ...d, status: 'pending', nextAttemptAt: now, lockedUntil: EPOCH, replays: [...(d.replays ?? []), replayRecord(d, now)] };
      delete entry.delivery.deliveredAt;
      this.index(entry.delivery);
      n += 1;
    }
    return n;
  }

  async disableEndpoint(endpointId: string, at: Date, reason: string): Promise<number> {
    this.disabled.set(endpointId, { at, reason });
    let n = 0;
    for (const id of [...this.pending]) {
      const entry = this.deliveries.get(id);
      if (entry && entry.delivery.endpointId === endpointId) {
        entry.delivery = { ...entry.delivery, status: 'failed', lastError: reason };
        this.index(entry.delivery);
        n += 1;
      }
    }
    return n;
  }

  async enableEndpoints(endpointIds: readonly string[]): Promise<void> {
    for (const id of endpointIds) {
      this.disabled.delete(id);
    }
  }

  async disabledEndpoints(): Promise<Set<string>> {
    return new Set(this.disabled.keys());
  }

  async stats(): Promise<OutboxStats> {
    const counts = new Map<string, OutboxStats['counts'][number]>();
    let oldest: Date | null = null;
    for (const { delivery: d } of this.deliveries.values()) {
      const key = `${d.clinicId}\u0000${d.type}\u0000${d.status}`;
      const c = counts.get(key) ?? { clinicId: d.clinicId, type: d.type, status: d.status, count: 0 };
      c.count += 1;
      counts.set(key, c);
      if (d.status === 'pending' && (oldest === null || d.receivedAt < oldest)) {
        oldest = d.receivedAt;
      }
    }
    return { counts: [...counts.values()], oldestPendingAt: oldest };
  }
}

/** The fields an attempt result sets on a delivery. */
export function applyResult(result: AttemptResult): Partial<EventDelivery> {
  const out: Partial<EventDelivery> = { status: result.status, attempts: result.attempts, lastAttemptAt: result.at, lockedUntil: EPOCH };
  if (result.nextAttemptAt) {
    out.nextAttemptAt = result.nextAttemptAt;
  }
  if (result.status === 'delivered') {
    out.deliveredAt = result.at;
  }
  if (result.lastStatus !== undefined) {
    out.lastStatus = result.lastStatus;
  }
  if (result.lastError !== undefined) {
    out.lastError = result.lastError;
  }
  return out;
}

/** An attempt without an HTTP status or error leaves none from an earlier attempt behind. */
function cleanOptional(d: EventDelivery, result: AttemptResult): void {
  if (result.lastStatus === undefined) {
    delete d.lastStatus;
  }
  if (result.lastError === undefined) {
    delete d.lastError;
  }
}
