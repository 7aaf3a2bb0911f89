import type { Collection, Db, Document, Filter, OptionalUnlessRequiredId, WithoutId } from 'mongodb';
import type { Job, Leased } from '../jobs/job-store.js';
import { insertNew, storeOperation } from './mongo/mongo-errors.js';

/** A job as a document: `_id` for its id, and the lease's token while one holds it. */
export type JobDoc<J extends Job> = Omit<J, 'id'> & { _id: string; lockToken?: string };

/**
 * The MongoDB side of the jobs kit's lease-and-token design (src/jobs/job-store.ts): one
 * document a job; a lease is one findOneAndUpdate on the due filter, nextAttemptAt and
 * lockedUntil (single-document atomic operations only, so it runs on FerretDB too); a result
 * replaces the document only while its token still holds.
 */
export class MongoJobs<J extends Job> {
  /**
   * @param db - the service's database
   * @param options.collection - the jobs' collection
   * @param options.due - what has work left (events: `{ status: 'pending' }`)
   * @param options.keyField - the field a lease's `exclude` names (events: `endpointId`)
   * @param options.name - the operation names' prefix (`events`: `events.lease`)
   */
  constructor(
    private readonly db: Db,
    private readonly options: { collection: string; due: Filter<Document>; keyField?: string; name: string; maxTimeMS?: number },
  ) {}

  get collection(): Collection<JobDoc<J>> {
    return this.db.collection<JobDoc<J>>(this.options.collection);
  }

  /** Inserts the jobs not there yet, in one round trip; returns how many were new. */
  add(jobs: readonly J[]): Promise<number> {
    return storeOperation(`${this.options.name}.add`, () => insertNew(this.collection, jobs.map((j) => toDoc(j))));
  }

  lease(now: Date, leaseMs: number, exclude: readonly string[] = []): Promise<Leased<J> | null> {
    return storeOperation(`${this.options.name}.lease`, async () => {
      const token = crypto.randomUUID();
      const filter: Filter<Document> = { ...this.options.due, nextAttemptAt: { $lte: now }, lockedUntil: { $lte: now } };
      if (this.options.keyField !== undefined && exclude.length > 0) {
        filter[this.options.keyField] = { $nin: [...exclude] };
      }
      const doc = await this.collection.findOneAndUpdate(
        filter as Filter<JobDoc<J>>,
        { $set: { lockedUntil: new Date(now.getTime() + leaseMs), lockToken: token } as Partial<JobDoc<J>> },
        { sort: { nextAttemptAt: 1 }, returnDocument: 'after', maxTimeMS: this.options.maxTimeMS ?? 5000 },
      );
      return doc ? { job: fromDoc<J>(doc as JobDoc<J>), token } : null;
    });
  }

  /** Replaces a leased job with `next` (the result applied, the lease released) if the lease still holds. */
  finish(leased: Leased<J>, next: J): Promise<boolean> {
    return storeOperation(`${this.options.name}.finish`, async () => {
      const { _id, ...rest } = toDoc(next);
      const r = await this.collection.replaceOne({ _id: leased.job.id, lockToken: leased.token } as Filter<JobDoc<J>>, rest as unknown as WithoutId<JobDoc<J>>);
      return r.matchedCount === 1;
    });
  }
}

/** A job as its document. */
export function toDoc<J extends Job>(job: J): OptionalUnlessRequiredId<JobDoc<J>> {
  const { id, ...rest } = job;
  return { _id: id, ...rest } as unknown as OptionalUnlessRequiredId<JobDoc<J>>;
}

/** A document as its job (the lease's token left out). */
export function fromDoc<J extends Job>(doc: JobDoc<J>): J {
  const { _id, lockToken: _token, ...rest } = doc as JobDoc<J> & { lockToken?: string };
  return { id: _id, ...rest } as unknown as J;
}
