import { APPOINTMENT_STATUSES, type Appointment, type AppointmentStatus, type Clinic, type Patient } from '../domain.js';
import type { Finding } from '../errors.js';
import { toE164 } from '../phone.js';
import type { Position, RawRow } from './raw-row.js';
import { isRelativeTime, resolveRelativeTime } from './relative-time.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const LANGUAGE = /^[a-z]{2}$/;
/** A date and a time with a zone (Z or ±hh:mm): a bare local time would be ambiguous. */
const INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const MAX_TEXT = 200;

const PATIENT_FIELDS = new Set(['id', 'clinicId', 'firstName', 'lastName', 'phone', 'language']);
const APPOINTMENT_FIELDS = new Set(['id', 'clinicId', 'patientId', 'startsAt', 'provider', 'status']);

export interface ValidateOptions {
  /** Seed files only: resolve `startsAt: +Nd HH:MM` against this instant (see relative-time.ts). */
  relativeTo?: Date;
}

export interface ValidatedRows {
  patients: Patient[];
  appointments: Appointment[];
  /** Every problem; nothing may be written when one has severity error. */
  findings: Finding[];
}

/**
 * Validates every row and builds the domain objects: required fields, known clinic,
 * phone normalized to E.164 in the clinic's default region (US when the clinic names
 * none), ISO date-times with a zone, known statuses, ids unique within the file, and an
 * appointment's patient (when in the same file) in the same clinic. Collects all
 * problems rather than stopping at the first.
 * @param rows - parsed rows
 * @param file - the file's path, for findings
 * @param clinics - known clinics by id
 * @param options - relativeTo: allow the seed-file notation `+Nd HH:MM` for startsAt
 */
export function validateRows(rows: readonly RawRow[], file: string, clinics: ReadonlyMap<string, Clinic>, options: ValidateOptions = {}): ValidatedRows {
  const findings: Finding[] = [];
  const patients: Patient[] = [];
  const appointments: Appointment[] = [];
  const seen = { patient: new Map<string, number>(), appointment: new Map<string, number>() };
  const patientClinic = new Map<string, string>();
  const pendingRefs: { row: RawRow; appointment: Appointment }[] = [];

  for (const row of rows) {
    const problems: Finding[] = [];
    const where = (field: string): Position => row.positions[field] ?? row.at;
    const fail = (field: string | null, message: string): void => {
      problems.push({ file, ...(field ? where(field) : row.at), message: `${row.kind} ${label(row)}: ${message}`, severity: 'error' });
    };
    const text = (field: string, required: boolean): string | undefined => {
      const value = row.fields[field];
      if (value === undefined || value === null || value === '') {
        if (required) {
          fail(null, `${field} is required`);
        }
        return undefined;
      }
      if (typeof value !== 'string' || value.trim() === '') {
        fail(field, `${field}: expected text`);
        return undefined;
      }
      if (value.length > MAX_TEXT) {
        fail(field, `${field}: longer than ${MAX_TEXT} characters`);
        return undefined;
      }
      return value.trim();
    };
    const id = (field: string): string | undefined => {
      const value = row.fields[field];
      // Whole numbers are ids too (YAML reads `id: 1001` as a number).
      const asText = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
      if (asText === undefined || asText === null || asText === '') {
        fail(null, `${field} is required`);
        return undefined;
      }
      if (typeof asText !== 'string' || !ID.test(asText)) {
        fail(field, `${field}: expected an id of letters, digits, ".", "_", ":" or "-" (at most 128)`);
        return undefined;
      }
      return asText;
    };

    const known = row.kind === 'patient' ? PATIENT_FIELDS : APPOINTMENT_FIELDS;
    for (const name of Object.keys(row.fields)) {
      if (!known.has(name)) {
        fail(name, `unknown field "${name}" (expected ${[...known].join(', ')})`);
      }
    }
    const rowId = id('id');
    const clinicId = id('clinicId');
    const clinic = clinicId === undefined ? undefined : clinics.get(clinicId);
    if (clinicId !== undefined && !clinic) {
      fail('clinicId', `clinicId: no clinic "${clinicId}" in the clinics file`);
    }
    if (rowId !== undefined) {
      const first = seen[row.kind].get(rowId);
      if (first !== undefined) {
        fail('id', `id "${rowId}" already used on line ${first}`);
      } else {
        seen[row.kind].set(rowId, row.at.line);
      }
    }

    if (row.kind === 'patient') {
      const firstName = text('firstName', true);
      const lastName = text('lastName', true);
      const language = text('language', false);
      if (language !== undefined && !LANGUAGE.test(language)) {
        fail('language', 'language: expected a two-letter code, e.g. es');
      }
      const rawPhone = row.fields.phone;
      let phone: string | undefined;
      if (rawPhone === undefined || rawPhone === null || rawPhone === '') {
        fail(null, 'phone is required');
      } else if (typeof rawPhone !== 'string') {
        // A YAML number has lost any leading 0 or +; make the author say what they mean.
        fail('phone', 'phone: write it as quoted text, e.g. "(555) 123-4567"');
      } else {
        const region = clinic?.defaultRegion ?? 'US';
        phone = toE164(rawPhone, region) ?? undefined;
        if (phone === undefined) {
          fail('phone', `phone: "${rawPhone}" is not a possible phone number (read in region ${region})`);
        }
      }
      if (problems.length === 0) {
        const patient: Patient = { id: rowId!, clinicId: clinicId!, firstName: firstName!, lastName: lastName!, phone: phone! };
        if (language !== undefined) {
          patient.language = language;
        }
        patients.push(patient);
        patientClinic.set(patient.id, patient.clinicId);
      }
    } else {
      const patientId = id('patientId');
      const provider = text('provider', false);
      const status = text('status', false) ?? 'scheduled';
      if (!(APPOINTMENT_STATUSES as readonly string[]).includes(status)) {
        fail('status', `status: "${status}" is not one of ${APPOINTMENT_STATUSES.join(', ')}`);
      }
      const relative = isRelativeTime(row.fields.startsAt);
      const startsAt =
        relative && options.relativeTo && clinic ? resolveRelativeTime(row.fields.startsAt as string, options.relativeTo, clinic.timezone) : instant(row.fields.startsAt);
      if (row.fields.startsAt === undefined || row.fields.startsAt === null || row.fields.startsAt === '') {
        fail(null, 'startsAt is required');
      } else if (relative && !options.relativeTo) {
        fail('startsAt', 'startsAt: "+Nd HH:MM" is for the demo seed file (SEED_FILE) only; an import needs a date-time with a zone, e.g. 2026-12-01T15:00:00Z');
      } else if (relative) {
        if (!startsAt && clinic) {
          fail('startsAt', 'startsAt: "+Nd HH:MM" needs a clock time 00:00-23:59');
        }
      } else if (!startsAt) {
        fail('startsAt', 'startsAt: expected a date-time with a zone, e.g. 2026-12-01T15:00:00Z or 2026-12-01T09:00:00-06:00');
      }
      if (problems.length === 0) {
        const appointment: Appointment = { id: rowId!, clinicId: clinicId!, patientId: patientId!, startsAt: startsAt!, status: status as AppointmentStatus };
        if (provider !== undefined) {
          appointment.provider = provider;
        }
        appointments.push(appointment);
        pendingRefs.push({ row, appointment });
      }
    }
    findings.push(...problems);
  }

  // After all rows: an appointment may come before its patient in the file.
  for (const { row, appointment } of pendingRefs) {
    const owner = patientClinic.get(appointment.patientId);
    if (owner !== undefined && owner !== appointment.clinicId) {
      findings.push({
        file,
        ...(row.positions.patientId ?? row.at),
        message: `appointment ${label(row)}: patient "${appointment.patientId}" belongs to clinic "${owner}", not "${appointment.clinicId}"`,
        severity: 'error',
      });
    }
  }
  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  return { patients, appointments, findings };
}

function label(row: RawRow): string {
  const id = row.fields.id;
  return typeof id === 'string' || typeof id === 'number' ? `"${String(id)}"` : '(no id)';
}

function instant(value: unknown): Date | undefined {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : value;
  }
  if (typeof value !== 'string' || !INSTANT.test(value.trim())) {
    return undefined;
  }
  const [y, m, d] = value.trim().slice(0, 10).split('-').map(Number) as [number, number, number];
  // Date would roll 2026-02-31 over to March 3rd: check the calendar day exists.
  if (new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) {
    return undefined;
  }
  const date = new Date(value.trim().replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}
