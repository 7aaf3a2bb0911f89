import { MemoryJobs } from '../jobs/job-store.js';
import { EPOCH, afterAttempt, replayRecord, type AttemptResult, type DeliveryQuery, type EventDelivery, type EventOutboxStore, type LeasedDelivery, type OutboxStats } from './outbox-store.js';

/**
 * The embedded store's events part: plain Maps, copies in and out (like the Store's
 * memory adapter), nothing kept across restarts. It keeps the newest `maxFinished`
 * delivered deliveries; failed and pending ones are never dropped.
 */
export class MemoryEventOutboxStore implements EventOutboxStore {
  readonly kind = 'memory' as const;
  /** The deliveries; the pending ones are due (the jobs kit's lease and token). */
  private readonly jobs = new MemoryJobs<EventDelivery>({ isDue: (d) => d.status === 'pending', keyOf: (d) => d.endpointId });
  /** Ids of delivered ones, oldest first: what goes when there are too many. */
  private readonly delivered = new Set<string>();
  private readonly disabled = new Map<string, { at: Date; reason: string }>();
  private readonly maxFinished: number;

  constructor(options: { maxFinished?: number } = {}) {
    this.maxFinished = options.maxFinished ?? 50_000;
  }

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  async addJobs(deliveries: readonly EventDelivery[]): Promise<number> {
    const added = this.jobs.add(deliveries);
    deliveries.forEach((d) => this.track(d));
    return added;
  }

  /** Keeps the newest `maxFinished` delivered deliveries. */
  private track(d: EventDelivery): void {
    this.delivered.delete(d.id);
    if (d.status !== 'delivered') {
      return;
    }
    this.delivered.add(d.id);
    for (const oldest of this.delivered) {
      if (this.delivered.size <= this.maxFinished) {
        break;
      }
      this.delivered.delete(oldest);
      this.jobs.delete(oldest);
    }
  }

  async lease(now: Date, leaseMs: number, excludeEndpoints: readonly string[] = []): Promise<LeasedDelivery | null> {
    return this.jobs.lease(now, leaseMs, excludeEndpoints);
  }

  async finish(leased: LeasedDelivery, result: AttemptResult): Promise<boolean> {
    const next = afterAttempt(leased.job, result);
    if (!this.jobs.finish(leased, next)) {
      return false;
    }
    this.track(next);
    return true;
  }

  async list(query: DeliveryQuery): Promise<EventDelivery[]> {
    const out = [...this.jobs.values()]
      .filter((d) => d.clinicId === query.clinicId && (query.status === undefined || d.status === query.status) && (query.type === undefined || d.type === query.type))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
    return structuredClone(out.slice(0, query.limit ?? 100));
  }

  async find(id: string): Promise<EventDelivery[]> {
    const out = [...this.jobs.values()].filter((d) => d.id === id || d.eventId === id);
    return structuredClone(out.sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  async requeue(filter: { ids: readonly string[] } | { clinicId: string; status: 'failed' }, now: Date): Promise<number> {
    const matching = [...this.jobs.values()].filter((d) => ('ids' in filter ? filter.ids.includes(d.id) : d.clinicId === filter.clinicId && d.status === 'failed'));
    for (const d of matching) {
      const { deliveredAt: _at, ...rest } = d;
      const next: EventDelivery = { ...rest, status: 'pending', nextAttemptAt: now, lockedUntil: EPOCH, replays: [...(d.replays ?? []), replayRecord(d, now)] };
      this.jobs.replace(next);
      this.track(next);
    }
    return matching.length;
  }

  async disableEndpoint(endpointId: string, at: Date, reason: string): Promise<number> {
    this.disabled.set(endpointId, { at, reason });
    const pending = [...this.jobs.values()].filter((d) => d.status === 'pending' && d.endpointId === endpointId);
    for (const d of pending) {
      // A delivery in flight keeps its lease: its worker still writes the attempt it made.
      this.jobs.replace({ ...d, status: 'failed', lastError: reason }, { keepLease: true });
    }
    return pending.length;
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
    for (const d of this.jobs.values()) {
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
