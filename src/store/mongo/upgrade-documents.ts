import type { Db } from 'mongodb';
import { APPOINTMENT_STATUSES } from '../../domain.js';
import { statusToDoc } from './documents.js';
import { COLLECTIONS } from './indexes.js';
import type { StoreLogger } from './store-logger.js';

/**
 * Rewrites appointment documents of the earlier shape (`status` a plain string, a
 * top-level `updatedAt`) into the current one (`status: { order, name, since }`, see
 * AppointmentStatusDoc), which `$min` and the not-cancelled filter rely on. Run by
 * init(); costs one `find` when there is nothing to do. Without pipeline updates
 * (FerretDB has none) it takes one update per status, then moves `updatedAt` into
 * `status.since`; every step is idempotent, so an interrupted run is finished by the next.
 * @param db - the database
 * @param logger - notes how many documents changed (no PHI: counts only)
 */
export async function upgradeAppointmentDocuments(db: Db, logger: StoreLogger): Promise<void> {
  const appointments = db.collection(COLLECTIONS.appointments);
  const legacy = await appointments.findOne({ $or: [{ status: { $type: 'string' } }, { updatedAt: { $exists: true } }] }, { projection: { _id: 1 } });
  if (!legacy) {
    return;
  }
  let upgraded = 0;
  for (const status of APPOINTMENT_STATUSES) {
    const result = await appointments.updateMany({ status }, { $set: { status: statusToDoc(status, undefined) } });
    upgraded += result.modifiedCount;
  }
  // `$rename` appends `since` after `order` and `name`, the key order $min compares in. A
  // document advanced between the two steps already has its own (newer) `since`: keep it.
  await appointments.updateMany({ updatedAt: { $exists: true }, 'status.since': { $exists: false } }, { $rename: { updatedAt: 'status.since' } });
  await appointments.updateMany({ updatedAt: { $exists: true } }, { $unset: { updatedAt: '' } });
  logger.info({ collection: COLLECTIONS.appointments, upgraded }, 'appointment documents upgraded to the ranked status shape');
}
