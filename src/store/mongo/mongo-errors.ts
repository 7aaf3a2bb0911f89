import { MongoBulkWriteError, MongoError, MongoServerError, type Collection, type Document, type OptionalUnlessRequiredId } from 'mongodb';
import { AppError, isAppError } from '../../errors.js';

/** Server error code of a duplicate key on a unique index. */
export const DUPLICATE_KEY = 11000;

/** True for a duplicate-key error from an insert or an upsert. */
export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/** True when an unordered insertMany failed only on duplicate keys: every other document went in. */
function onlyDuplicateKeys(err: MongoBulkWriteError): boolean {
  const errors = [err.writeErrors].flat();
  return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY) && err.result.getWriteConcernError() === undefined;
}

/**
 * Inserts the documents whose _id is not there yet, with one unordered insertMany (one round
 * trip however many), and returns how many went in. For the relays, which copy the same work
 * again after a crash: duplicate keys alone are the normal case, not an error.
 * @param collection - where they go
 * @param docs - each with its deterministic _id
 */
export async function insertNew<T extends Document>(collection: Collection<T>, docs: OptionalUnlessRequiredId<T>[]): Promise<number> {
  if (docs.length === 0) {
    return 0;
  }
  try {
    return (await collection.insertMany(docs, { ordered: false })).insertedCount;
  } catch (err) {
    if (err instanceof MongoBulkWriteError && onlyDuplicateKeys(err)) {
      return err.result.insertedCount;
    }
    throw err;
  }
}

/**
 * Driver errors that mean "the database does not answer (now)": server selection,
 * network and timeout errors. Branches on the error's name, because the driver's class
 * hierarchy is the only stable signal it gives (labels vary with the server).
 */
const UNAVAILABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoOperationTimeoutError',
  'MongoWaitQueueTimeoutError',
  'MongoPoolClearedError',
  'MongoPoolClosedError',
  'PoolClearedOnNetworkError',
]);

/** The error and what it wraps (bulk write errors carry the network error in errorResponse). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let current: unknown = err;
  while (current instanceof Error && out.length < 5) {
    out.push(current);
    const next = (current as { errorResponse?: unknown }).errorResponse;
    current = next instanceof Error ? next : current.cause;
  }
  return out;
}

/** MaxTimeMSExpired: the server gave up inside our time budget. */
const MAX_TIME_EXPIRED = 50;

/**
 * Turns whatever the driver threw into our one error type: STORE_UNAVAILABLE when the
 * database cannot be reached in time, STORE_ERROR for anything else.
 * @param err - what the driver threw
 * @param operation - the store method, for the message (no PHI)
 */
export function toStoreError(err: unknown, operation: string): AppError {
  if (isAppError(err)) {
    return err;
  }
  const code = err instanceof MongoError ? err.code : undefined;
  if (chain(err).some((e) => UNAVAILABLE_NAMES.has((e as Error).name)) || code === MAX_TIME_EXPIRED) {
    return new AppError('STORE_UNAVAILABLE', `database unavailable during ${operation}`, { cause: err });
  }
  // Not the driver's message: a duplicate-key message quotes the key, which may be a phone.
  const codeName = err instanceof MongoServerError ? ` (${String(err.codeName ?? err.code)})` : '';
  return new AppError('STORE_ERROR', `database error during ${operation}${codeName}`, { cause: err });
}

/**
 * Runs one store operation and maps what the driver throws onto the store's AppError
 * (toStoreError). Every MongoDB adapter (the main store and the feature folders' parts)
 * goes through this one function.
 * @param operation - the store method, for the message (no PHI)
 * @param fn - the driver calls
 */
export async function storeOperation<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err, operation);
  }
}
