import type { CreateIndexesOptions, Db, IndexSpecification } from 'mongodb';
import { errorCode } from '../../errors.js';
import type { StoreLogger } from './store-logger.js';

export const COLLECTIONS = {
  patients: 'patients',
  appointments: 'appointments',
  messages: 'messages',
  optOuts: 'optOuts',
  rateLimits: 'rateLimits',
} as const;

interface IndexPlan {
  collection: string;
  key: IndexSpecification & Record<string, 1 | -1>;
  options: CreateIndexesOptions & { name: string };
  /** Correctness depends on it: failing to create it fails init(). */
  required: boolean;
}

/**
 * The indexes created at start. Required ones carry correctness (the unique ones) or
 * the hot path; best-effort ones (TTL) may be refused by MongoDB-compatible servers
 * such as FerretDB 1.x, and nothing depends on them.
 */
export const INDEXES: readonly IndexPlan[] = [
  { collection: COLLECTIONS.patients, key: { clinicId: 1, phone: 1 }, options: { name: 'clinic_phone' }, required: true },
  { collection: COLLECTIONS.appointments, key: { clinicId: 1, patientId: 1, startsAt: 1 }, options: { name: 'clinic_patient_start' }, required: true },
  { collection: COLLECTIONS.messages, key: { messageSid: 1 }, options: { name: 'messageSid_unique', unique: true }, required: true },
  { collection: COLLECTIONS.messages, key: { clinicId: 1, receivedAt: 1 }, options: { name: 'clinic_receivedAt' }, required: true },
  // The media relay's input: only records still waiting for their media jobs are in it.
  { collection: COLLECTIONS.messages, key: { mediaPending: 1 }, options: { name: 'mediaPending', sparse: true }, required: true },
  // The events relay's input: only completions whose events wait to be copied are in it.
  { collection: COLLECTIONS.messages, key: { outboxPending: 1 }, options: { name: 'outboxPending', sparse: true }, required: true },
  { collection: COLLECTIONS.optOuts, key: { clinicId: 1, phone: 1 }, options: { name: 'clinic_phone_unique', unique: true }, required: true },
  // Reserved collection (see docs/store.md): a TTL index so that anything ever put there
  // with an expiresAt goes away on servers that have TTL; the others just keep it.
  { collection: COLLECTIONS.rateLimits, key: { expiresAt: 1 }, options: { name: 'expiresAt_ttl', expireAfterSeconds: 0 }, required: false },
];

/** Code of NamespaceExists: createCollection on a collection that is already there. */
const NAMESPACE_EXISTS = 48;

/**
 * Creates every collection and index. Idempotent: creating an index that exists with
 * the same key and options is a no-op on the server. A refused best-effort index is
 * logged and skipped; a refused required one throws.
 * @param db - the database
 * @param logger - for warnings
 */
export async function ensureIndexes(db: Db, logger: StoreLogger): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of Object.values(COLLECTIONS)) {
    if (!existing.has(name)) {
      try {
        await db.createCollection(name);
      } catch (err) {
        if (errorCode(err) !== NAMESPACE_EXISTS) {
          throw err;
        }
      }
    }
  }
  for (const plan of INDEXES) {
    try {
      await db.collection(plan.collection).createIndex(plan.key, plan.options);
    } catch (err) {
      if (plan.required) {
        throw err;
      }
      logger.warn(
        { collection: plan.collection, index: plan.options.name, code: errorCode(err) },
        'optional index refused by the server; continuing without it',
      );
    }
  }
}
