import type { Db } from 'mongodb';
import { APPOINTMENT_STATUSES, RESPONSE_KINDS } from '../../domain.js';
import { statusToDoc } from './documents.js';
import { COLLECTIONS } from './indexes.js';
import type { StoreLogger } from './store-logger.js';

/**
 * Brings appointment documents of earlier shapes to the current one (AppointmentDoc), in
 * two stages, each a few `updateMany` (FerretDB has no pipeline updates) and each step
 * idempotent, so an interrupted run is finished by the next. Run by init(); costs two
 * `find`s when there is nothing to do.
 * @param db - the database
 * @param logger - notes how many documents changed (no PHI: counts only)
 */
export async function upgradeAppointmentDocuments(db: Db, logger: StoreLogger): Promise<void> {
  await upgradeToRankedStatus(db, logger);
  await upgradeToPatientResponse(db, logger);
}

/**
 * The first shape: `status` a plain string and a top-level `updatedAt`. Becomes
 * `status: { order, name, since }` (AppointmentStatusDoc), which `$min` and the
 * not-cancelled filter rely on: one update per status, then `updatedAt` moves into
 * `status.since`.
 */
async function upgradeToRankedStatus(db: Db, logger: StoreLogger): Promise<void> {
  const appointments = db.collection(COLLECTIONS.appointments);
  const legacy = await appointments.findOne({ $or: [{ status: { $type: 'string' } }, { updatedAt: { $exists: true } }] }, { projection: { _id: 1 } });
  if (!legacy) {
    return;
  }
  let upgraded = 0;
  for (const status of APPOINTMENT_STATUSES) {
    const result = await appointments.updateMany({ status }, { $set: { status: statusToDoc(status) } });
    upgraded += result.modifiedCount;
  }
  // `$rename` appends `since` after `order` and `name`, the key order $min compares in. A
  // document advanced between the two steps already has its own (newer) `since`: keep it.
  await appointments.updateMany({ updatedAt: { $exists: true }, 'status.since': { $exists: false } }, { $rename: { updatedAt: 'status.since' } });
  await appointments.updateMany({ updatedAt: { $exists: true } }, { $unset: { updatedAt: '' } });
  logger.info({ collection: COLLECTIONS.appointments, upgraded }, 'appointment documents upgraded to the ranked status shape');
}

/**
 * The second shape: one `status` for both the practice's word and the patient's (no
 * `imported`). Splits it (docs/DESIGN.md, "Appointments: who owns what"): a status a
 * patient gives (confirmed, cancel-requested, reschedule-requested) that a message wrote
 * (it has a `since`) stays in `status` as the patient's response, and `imported` becomes
 * `scheduled`; a `confirmed` without a `since` came from an import (the practice
 * confirmed); a request without a `since` came from an old import file and is kept as a
 * response at time 0 rather than lost. `scheduled` and `cancelled` are the practice's.
 */
async function upgradeToPatientResponse(db: Db, logger: StoreLogger): Promise<void> {
  const appointments = db.collection(COLLECTIONS.appointments);
  const legacy = await appointments.findOne({ imported: { $exists: false } }, { projection: { _id: 1 } });
  if (!legacy) {
    return;
  }
  let upgraded = 0;
  const step = async (filter: Record<string, unknown>, update: Record<string, unknown>): Promise<void> => {
    upgraded += (await appointments.updateMany({ imported: { $exists: false }, ...filter }, update)).modifiedCount;
  };
  const timed = { 'status.since': { $exists: true } };
  const untimed = { 'status.since': { $exists: false } };
  for (const status of ['scheduled', 'cancelled'] as const) {
    await step({ 'status.name': status }, { $set: { imported: status, status: statusToDoc(status) } });
  }
  await step({ 'status.name': 'confirmed', ...untimed }, { $set: { imported: 'confirmed' } });
  for (const kind of RESPONSE_KINDS) {
    if (kind !== 'confirmed') {
      await step({ 'status.name': kind, ...untimed }, { $set: { 'status.since': new Date(0) } });
    }
  }
  await step({ 'status.name': { $in: [...RESPONSE_KINDS] }, ...timed }, { $set: { imported: 'scheduled' } });
  logger.info({ collection: COLLECTIONS.appointments, upgraded }, 'appointment documents upgraded: the practice status and the patient response split');
}
