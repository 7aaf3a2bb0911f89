import type { Collection, Db } from 'mongodb';
import { errorCode } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { storeOperation } from '../../store/mongo-kit.js';
import type { SessionRecord, StaffSessionStore } from './session-store.js';

export const STAFF_SESSIONS_COLLECTION = 'staffSessions';

type SessionDoc = Omit<SessionRecord, 'id'> & { _id: string };

const toRecord = ({ _id, ...rest }: SessionDoc): SessionRecord => ({ id: _id, ...rest }) as SessionRecord;

/**
 * Staff sessions in MongoDB, one document a session keyed by the cookie id's SHA-256.
 * A TTL index on `expiresAt` clears old ones where the server has TTL (FerretDB 1.x does
 * not): every read checks the expiry itself, and `sweep` removes what TTL would.
 */
export class MongoSessionStore implements StaffSessionStore {
  private readonly collection: Collection<SessionDoc>;

  /**
   * @param db - the backend's database
   * @param options - where a refused optional index is reported
   */
  constructor(
    db: Db,
    private readonly options: { logger?: Logger } = {},
  ) {
    this.collection = db.collection<SessionDoc>(STAFF_SESSIONS_COLLECTION);
  }

  async init(): Promise<void> {
    await storeOperation('staffSessions.init', async () => {
      try {
        await this.collection.createIndex({ expiresAt: 1 }, { name: 'expiresAt_ttl', expireAfterSeconds: 0 });
      } catch (err) {
        // Best effort, like the other TTL indexes: nothing depends on it (reads check expiry).
        this.options.logger?.warn({ collection: STAFF_SESSIONS_COLLECTION, index: 'expiresAt_ttl', code: errorCode(err) }, 'optional index refused by the server; continuing without it');
        await this.collection.createIndex({ expiresAt: 1 }, { name: 'expiresAt' });
      }
    });
  }

  async create(record: SessionRecord): Promise<void> {
    const { id, ...rest } = record;
    await storeOperation('staffSessions.create', async () => {
      await this.collection.insertOne({ _id: id, ...rest } as SessionDoc);
    });
  }

  async find(id: string, now: Date): Promise<SessionRecord | null> {
    const doc = await storeOperation('staffSessions.find', () => this.collection.findOne({ _id: id }));
    if (!doc) {
      return null;
    }
    if (doc.expiresAt <= now) {
      await this.delete(id);
      return null;
    }
    return toRecord(doc);
  }

  async take(id: string, now: Date): Promise<SessionRecord | null> {
    const doc = await storeOperation('staffSessions.take', () => this.collection.findOneAndDelete({ _id: id }));
    return doc && doc.expiresAt > now ? toRecord(doc) : null;
  }

  async touch(id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await storeOperation('staffSessions.touch', async () => {
      await this.collection.updateOne({ _id: id }, { $set: { lastSeenAt, expiresAt } });
    });
  }

  async delete(id: string): Promise<void> {
    await storeOperation('staffSessions.delete', async () => {
      await this.collection.deleteOne({ _id: id });
    });
  }

  async sweep(now: Date): Promise<number> {
    const result = await storeOperation('staffSessions.sweep', () => this.collection.deleteMany({ expiresAt: { $lte: now } }));
    return result.deletedCount;
  }
}
