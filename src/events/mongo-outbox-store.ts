import type { Collection, Db, Filter } from 'mongodb';
import { MongoJobs, fromDoc, storeOperation, type JobDoc } from '../store/mongo-kit.js';
import { EPOCH, afterAttempt, replayRecord, type AttemptResult, type DeliveryQuery, type DeliveryStatus, type EventDelivery, type EventOutboxStore, type LeasedDelivery, type OutboxStats } from './outbox-store.js';

export const EVENTS_COLLECTION = 'events';
export const EVENT_ENDPOINTS_COLLECTION = 'eventEndpoints';

type DeliveryDoc = JobDoc<EventDelivery>;
interface EndpointDoc {
  _id: string;
  disabled: boolean;
  at: Date;
  reason: string;
}

const toDelivery = (doc: DeliveryDoc): EventDelivery => fromDoc(doc);

/**
 * The events part on MongoDB: one document a delivery in `events`, the 410-disabled
 * endpoints in `eventEndpoints`. Single-document atomic operations only, so it runs on
 * FerretDB too; a lease is one findOneAndUpdate on status, nextAttemptAt and lockedUntil.
 */
export class MongoEventOutboxStore implements EventOutboxStore {
  readonly kind = 'mongo' as const;

  /**
   * @param db - the service's database
   * @param options.maxTimeMS - server-side limit of each query
   */
  /** The deliveries as jobs: due while pending; a lease's exclude names endpoints. */
  private readonly jobs: MongoJobs<EventDelivery>;

  constructor(
    private readonly db: Db,
    private readonly options: { maxTimeMS?: number } = {},
  ) {
    this.jobs = new MongoJobs(db, { collection: EVENTS_COLLECTION, due: { status: 'pending' }, keyField: 'endpointId', name: 'events', ...options });
  }

  private get events(): Collection<DeliveryDoc> {
    return this.jobs.collection;
  }

  private get endpoints(): Collection<EndpointDoc> {
    return this.db.collection<EndpointDoc>(EVENT_ENDPOINTS_COLLECTION);
  }

  private get maxTimeMS(): number {
    return this.options.maxTimeMS ?? 5000;
  }


  async init(): Promise<void> {
    await storeOperation('events.init', async () => {
      // What a lease looks for: pending and due, soonest first.
      await this.events.createIndex({ status: 1, nextAttemptAt: 1 }, { name: 'status_nextAttemptAt' });
      // The oldest pending (metrics, readiness).
      await this.events.createIndex({ status: 1, receivedAt: 1 }, { name: 'status_receivedAt' });
      await this.events.createIndex({ clinicId: 1, createdAt: -1 }, { name: 'clinic_createdAt' });
      await this.events.createIndex({ eventId: 1 }, { name: 'eventId' });
    });
  }

  async close(): Promise<void> {}

  addJobs(deliveries: readonly EventDelivery[]): Promise<number> {
    // An outbox's deliveries in one round trip; the relay copying an outbox again adds none.
    return this.jobs.add(deliveries);
  }

  lease(now: Date, leaseMs: number, excludeEndpoints: readonly string[] = []): Promise<LeasedDelivery | null> {
    return this.jobs.lease(now, leaseMs, excludeEndpoints);
  }

  finish(leased: LeasedDelivery, result: AttemptResult): Promise<boolean> {
    return this.jobs.finish(leased, afterAttempt(leased.job, result));
  }

  async list(query: DeliveryQuery): Promise<EventDelivery[]> {
    return storeOperation('events.list', async () => {
      const filter: Filter<DeliveryDoc> = { clinicId: query.clinicId };
      if (query.status) {
        filter.status = query.status;
      }
      if (query.type) {
        filter.type = query.type;
      }
      const docs = await this.events
        .find(filter, { maxTimeMS: this.maxTimeMS })
        .sort({ createdAt: -1, _id: -1 })
        .limit(query.limit ?? 100)
        .toArray();
      return docs.map(toDelivery);
    });
  }

  async find(id: string): Promise<EventDelivery[]> {
    return storeOperation('events.find', async () => {
      const docs = await this.events.find({ $or: [{ _id: id }, { eventId: id }] }, { maxTimeMS: this.maxTimeMS }).sort({ _id: 1 }).toArray();
      return docs.map(toDelivery);
    });
  }

  async requeue(filter: { ids: readonly string[] } | { clinicId: string; status: 'failed' }, now: Date): Promise<number> {
    return storeOperation('events.requeue', async () => {
      const f: Filter<DeliveryDoc> = 'ids' in filter ? { _id: { $in: [...filter.ids] } } : { clinicId: filter.clinicId, status: 'failed' };
      // Each delivery's replay record names where it stood (its attempts, status, last error),
      // so they are read first and written one by one, each only if it has not moved since.
      const docs = await this.events.find(f, { projection: { attempts: 1, status: 1, lastError: 1 }, maxTimeMS: this.maxTimeMS }).toArray();
      if (docs.length === 0) {
        return 0;
      }
      const r = await this.events.bulkWrite(
        docs.map((d) => ({
          updateOne: {
            filter: { _id: d._id, attempts: d.attempts, status: d.status },
            update: {
              $set: { status: 'pending' as const, nextAttemptAt: now, lockedUntil: EPOCH },
              $push: { replays: replayRecord(d, now) },
              $unset: { lockToken: '', deliveredAt: '' },
            },
          },
        })),
        { ordered: false },
      );
      return r.modifiedCount;
    });
  }

  async disableEndpoint(endpointId: string, at: Date, reason: string): Promise<number> {
    return storeOperation('events.disableEndpoint', async () => {
      await this.endpoints.updateOne({ _id: endpointId }, { $set: { disabled: true, at, reason } }, { upsert: true });
      const r = await this.events.updateMany({ endpointId, status: 'pending' }, { $set: { status: 'failed', lastError: reason } });
      return r.modifiedCount;
    });
  }

  async enableEndpoints(endpointIds: readonly string[]): Promise<void> {
    await storeOperation('events.enableEndpoints', async () => {
      await this.endpoints.deleteMany({ _id: { $in: [...endpointIds] } });
    });
  }

  async disabledEndpoints(): Promise<Set<string>> {
    return storeOperation('events.disabledEndpoints', async () => {
      const docs = await this.endpoints.find({ disabled: true }, { maxTimeMS: this.maxTimeMS }).toArray();
      return new Set(docs.map((d) => d._id));
    });
  }

  async stats(): Promise<OutboxStats> {
    return storeOperation('events.stats', async () => {
      const groups = await this.events
        .aggregate<{ _id: { clinicId: string; type: string; status: DeliveryStatus }; count: number }>(
          [{ $group: { _id: { clinicId: '$clinicId', type: '$type', status: '$status' }, count: { $sum: 1 } } }],
          { maxTimeMS: this.maxTimeMS },
        )
        .toArray();
      const oldest = await this.events.find({ status: 'pending' }, { maxTimeMS: this.maxTimeMS, projection: { receivedAt: 1 } }).sort({ receivedAt: 1 }).limit(1).toArray();
      return {
        counts: groups.map((g) => ({ clinicId: g._id.clinicId, type: g._id.type, status: g._id.status, count: g.count })),
        oldestPendingAt: oldest[0]?.receivedAt ?? null,
      };
    });
  }
}
