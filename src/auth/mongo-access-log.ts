import type { Collection, Db } from 'mongodb';
import { storeOperation, toStoreError } from '../store/mongo-kit.js';
import type { AccessLogStore, AccessQuery, AccessRecord } from './access-log.js';

export const ACCESS_LOG_COLLECTION = 'accessLog';

/** The production trail: one insert per request. */
export class MongoAccessLog implements AccessLogStore {
  private readonly collection: Collection<AccessRecord>;

  /** @param db - the backend's database */
  constructor(db: Db) {
    this.collection = db.collection<AccessRecord>(ACCESS_LOG_COLLECTION);
  }

  async init(): Promise<void> {
    await storeOperation('accessLog.init', async () => {
      await this.collection.createIndex({ clinicId: 1, at: 1 }, { name: 'clinic_at' });
      await this.collection.createIndex({ at: 1 }, { name: 'at' });
    });
  }

  async append(record: AccessRecord): Promise<void> {
    await storeOperation('accessLog.append', async () => {
      // A copy: insertOne adds _id to the object it is given.
      await this.collection.insertOne({ ...record });
    });
  }

  async *list(query: AccessQuery): AsyncIterable<AccessRecord> {
    const filter = { at: { $gte: query.since, $lt: query.until }, ...(query.clinicId === undefined ? {} : { clinicId: query.clinicId }) };
    try {
      for await (const doc of this.collection.find(filter, { projection: { _id: 0 } }).sort({ at: 1 })) {
        yield doc;
      }
    } catch (err) {
      throw toStoreError(err, 'accessLog.list');
    }
  }
}
