import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, ObjectId, type Collection, type Db, type Filter } from 'mongodb';
import { insertNew, storeOperation } from '../store/mongo-kit.js';
import { applyUpdate, type LeasedMedia, type MediaFileMeta, type MediaRecord, type MediaStore, type MediaUpdate } from './media-store.js';

export const MEDIA_COLLECTION = 'media';
export const MEDIA_BUCKET = 'media';

type MediaDoc = Omit<MediaRecord, 'id'> & { _id: string; lockToken?: string };

function toRecord(doc: MediaDoc): MediaRecord {
  const { _id, lockToken: _token, ...rest } = doc;
  return { id: _id, ...rest };
}

/**
 * The media part on MongoDB: one document a media item in `media` (its state and its
 * job), the bytes in GridFS bucket `media` (`media.files`, `media.chunks`) with the
 * metadata staff and audits need. Single-document atomic operations only (a lease is
 * one findOneAndUpdate), so it runs on FerretDB too.
 */
export class MongoMediaStore implements MediaStore {
  readonly kind = 'mongo' as const;
  private readonly bucket: GridFSBucket;

  /**
   * @param db - the service's database
   * @param options.maxTimeMS - server-side limit of each query
   */
  constructor(
    private readonly db: Db,
    private readonly options: { maxTimeMS?: number } = {},
  ) {
    this.bucket = new GridFSBucket(db, { bucketName: MEDIA_BUCKET });
  }

  private get media(): Collection<MediaDoc> {
    return this.db.collection<MediaDoc>(MEDIA_COLLECTION);
  }

  private get maxTimeMS(): number {
    return this.options.maxTimeMS ?? 5000;
  }


  async init(): Promise<void> {
    await storeOperation('media.init', async () => {
      // What a lease looks for: work left and due, soonest first.
      await this.media.createIndex({ work: 1, nextAttemptAt: 1 }, { name: 'work_nextAttemptAt' });
      // The thread's look-up.
      await this.media.createIndex({ clinicId: 1, messageSid: 1, index: 1 }, { name: 'clinic_message_index' });
      // GridFS's own indexes, made here rather than on the first upload.
      await this.db.collection(`${MEDIA_BUCKET}.files`).createIndex({ filename: 1, uploadDate: 1 }, { name: 'filename_uploadDate' });
      await this.db.collection(`${MEDIA_BUCKET}.chunks`).createIndex({ files_id: 1, n: 1 }, { name: 'files_id_n', unique: true });
    });
  }

  async close(): Promise<void> {}

  async addMedia(records: readonly MediaRecord[]): Promise<number> {
    // A message's records in one round trip, not ten; the relay adding a message again adds none.
    return storeOperation('media.add', () => insertNew(this.media, records.map(({ id, ...rest }) => ({ _id: id, ...rest }))));
  }

  async countWork(): Promise<number> {
    return storeOperation('media.countWork', () => this.media.countDocuments({ work: { $in: ['fetch', 'delete'] } }, { maxTimeMS: this.maxTimeMS }));
  }

  async lease(now: Date, leaseMs: number): Promise<LeasedMedia | null> {
    return storeOperation('media.lease', async () => {
      const token = randomUUID();
      const filter: Filter<MediaDoc> = { work: { $in: ['fetch', 'delete'] }, nextAttemptAt: { $lte: now }, lockedUntil: { $lte: now } };
      const doc = await this.media.findOneAndUpdate(
        filter,
        { $set: { lockedUntil: new Date(now.getTime() + leaseMs), lockToken: token } },
        { sort: { nextAttemptAt: 1 }, returnDocument: 'after', maxTimeMS: this.maxTimeMS },
      );
      return doc ? { record: toRecord(doc), token } : null;
    });
  }

  async finish(leased: LeasedMedia, update: MediaUpdate): Promise<boolean> {
    return storeOperation('media.finish', async () => {
      const { id, ...next } = applyUpdate(leased.record, update);
      const r = await this.media.replaceOne({ _id: id, lockToken: leased.token }, next);
      return r.matchedCount === 1;
    });
  }

  async saveFile(meta: MediaFileMeta, bytes: Buffer): Promise<string> {
    return storeOperation('media.saveFile', async () => {
      const upload = this.bucket.openUploadStream(`${meta.messageSid}-${meta.index}`, {
        metadata: {
          clinic: meta.clinicId,
          MessageSid: meta.messageSid,
          index: meta.index,
          sha256: meta.sha256,
          detectedType: meta.contentType,
          size: meta.size,
          fetchedAt: meta.fetchedAt,
        },
      });
      await pipeline(Readable.from([bytes]), upload);
      return upload.id.toHexString();
    });
  }

  async openFile(fileId: string): Promise<Readable | null> {
    if (!ObjectId.isValid(fileId) || !/^[0-9a-f]{24}$/.test(fileId)) {
      return null;
    }
    return storeOperation('media.openFile', async () => {
      const id = new ObjectId(fileId);
      const found = await this.bucket.find({ _id: id }, { limit: 1 }).toArray();
      return found.length === 0 ? null : this.bucket.openDownloadStream(id);
    });
  }

  async deleteFile(fileId: string): Promise<void> {
    if (!/^[0-9a-f]{24}$/.test(fileId)) {
      return;
    }
    await storeOperation('media.deleteFile', async () => {
      try {
        await this.bucket.delete(new ObjectId(fileId));
      } catch (err) {
        // Already gone: what we wanted.
        if (!/FileNotFound|File not found/i.test((err as Error).message)) {
          throw err;
        }
      }
    });
  }

  async get(clinicId: string, id: string): Promise<MediaRecord | null> {
    return storeOperation('media.get', async () => {
      const doc = await this.media.findOne({ _id: id, clinicId }, { maxTimeMS: this.maxTimeMS });
      return doc ? toRecord(doc) : null;
    });
  }

  async listForMessages(clinicId: string, messageSids: readonly string[]): Promise<MediaRecord[]> {
    if (messageSids.length === 0) {
      return [];
    }
    return storeOperation('media.listForMessages', async () => {
      const docs = await this.media
        .find({ clinicId, messageSid: { $in: [...messageSids] } }, { maxTimeMS: this.maxTimeMS })
        .sort({ messageSid: 1, index: 1 })
        .toArray();
      return docs.map(toRecord);
    });
  }
}
