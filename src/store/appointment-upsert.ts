import { isDeepStrictEqual } from 'node:util';
import type { Appointment, RetiredResponse } from '../domain.js';

/** What one imported row does to the stored appointment. */
export interface AppointmentUpsert {
  /** The appointment as it is to be stored. */
  result: Appointment;
  change: 'inserted' | 'updated' | 'unchanged';
  /** The patient's response this import retires into responseHistory (null: none). */
  retired: RetiredResponse | null;
}

/** The fields the practice system owns: what an import writes, and all it compares. */
function practiceFields(a: Appointment): Pick<Appointment, 'id' | 'clinicId' | 'patientId' | 'startsAt' | 'provider' | 'status'> {
  return { id: a.id, clinicId: a.clinicId, patientId: a.patientId, startsAt: a.startsAt, status: a.status, ...(a.provider === undefined ? {} : { provider: a.provider }) };
}

/**
 * Applies one imported row to the stored appointment (docs/DESIGN.md, "Appointments: who
 * owns what"): the row's practice fields replace the stored ones; the patient's response
 * is never taken from the row. It stays, unless the import moves `startsAt` or cancels the
 * appointment: then it moves into `responseHistory`, because the patient answered about an
 * appointment that is no longer the one on the books. Both stores use this, so they agree.
 * @param existing - the stored appointment (undefined: new)
 * @param row - the imported row (only its practice fields are read)
 * @param at - when the import runs (a retired response's retiredAt)
 */
export function upsertAppointment(existing: Appointment | undefined, row: Appointment, at: Date): AppointmentUpsert {
  const fields = practiceFields(row);
  if (!existing) {
    return { result: fields, change: 'inserted', retired: null };
  }
  if (isDeepStrictEqual(practiceFields(existing), fields)) {
    return { result: existing, change: 'unchanged', retired: null };
  }
  const result: Appointment = { ...fields };
  const response = existing.patientResponse;
  const cancels = fields.status === 'cancelled' && existing.status !== 'cancelled';
  const moves = fields.startsAt.getTime() !== existing.startsAt.getTime();
  let retired: RetiredResponse | null = null;
  if (response && (cancels || moves)) {
    retired = { ...response, retiredAt: new Date(at), reason: cancels ? 'cancelled' : 'moved' };
  } else if (response) {
    result.patientResponse = response;
  }
  const history = [...(existing.responseHistory ?? []), ...(retired ? [retired] : [])];
  if (history.length > 0) {
    result.responseHistory = history;
  }
  return { result, change: 'updated', retired };
}
