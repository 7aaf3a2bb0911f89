import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, ObjectId, type Collection, type Db } from 'mongodb';
import { MongoJobs, fromDoc, storeOperation, type JobDoc } from '../store/mongo-kit.js';
import { applyUpdate, type LeasedMedia, type MediaFileMeta, type MediaRecord, type MediaStore, type MediaUpdate } from './media-store.js';

export const MEDIA_COLLECTION = 'media';
export const MEDIA_BUCKET = 'media';

type MediaDoc = JobDoc<MediaRecord>;

const toRecord = (doc: MediaDoc): MediaRecord => fromDoc(doc);

/**
 * The media part on MongoDB: one document a media item in `media` (its state and its
 * job), the bytes in GridFS bucket `media` (`media.files`, `media.chunks`) with the
 * metadata staff and audits need. Single-document atomic operations only (a lease is
 * one findOneAndUpdate), so it runs on FerretDB too.
 */
export class MongoMediaStore implements MediaStore {
  readonly kind = 'mongo' as const;
  private readonly bucket: GridFSBucket;
  /** The records as jobs: due while work is left. */
  private readonly jobs: MongoJobs<MediaRecord>;

  /**
   * @param db - the service's database
   * @param options.maxTimeMS - server-side limit of each query
   */
  constructor(
    private readonly db: Db,
    private readonly options: { maxTimeMS?: number } = {},
  ) {
    this.bucket = new GridFSBucket(db, { bucketName: MEDIA_BUCKET });
    this.jobs = new MongoJobs(db, { collection: MEDIA_COLLECTION, due: { work: { $in: ['fetch', 'delete'] } }, name: 'media', ...options });
  }

  private get media(): Collection<MediaDoc> {
    return this.jobs.collection;
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

  addJobs(records: readonly MediaRecord[]): Promise<number> {
    // A message's records in one round trip, not ten; the relay adding a message again adds none.
    return this.jobs.add(records);
  }

  async countWork(): Promise<number> {
    return storeOperation('media.countWork', () => this.media.countDocuments({ work: { $in: ['fetch', 'delete'] } }, { maxTimeMS: this.maxTimeMS }));
  }

  lease(now: Date, leaseMs: number): Promise<LeasedMedia | null> {
    return this.jobs.lease(now, leaseMs);
  }

  finish(leased: LeasedMedia, update: MediaUpdate): Promise<boolean> {
    return this.jobs.finish(leased, applyUpdate(leased.job, update));
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
