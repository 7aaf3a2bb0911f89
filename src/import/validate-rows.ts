import { IMPORTED_STATUSES, type Appointment, type Clinic, type ImportedStatus, type Patient, type SourcePosition } from '../domain.js';
import type { Finding } from '../errors.js';
import { toE164 } from '../phone.js';
import type { RawRow } from './raw-row.js';
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

/** An appointment whose patient is not in the file: the store must hold that patient. */
export interface PatientReference {
  appointmentId: string;
  patientId: string;
  clinicId: string;
  /** Where the row names the patient. */
  at: SourcePosition;
}

/**
 * Statuses of the earlier single-status format that a patient gives by SMS. The practice
 * system cannot own them (docs/DESIGN.md, "Appointments: who owns what"): a file that
 * still has them is read as `scheduled`, with a warning, and the patient's response the
 * store holds, if any, stays.
 */
const PATIENT_REQUEST_STATUSES = new Set(['cancel-requested', 'reschedule-requested']);

export interface ValidatedRows {
  patients: Patient[];
  appointments: Appointment[];
  /** Appointments whose patient is not in the file (checkPatientReferences looks in the store). */
  references: PatientReference[];
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
  const placed: Array<{ row: RawRow; appointment: Appointment }> = [];
  for (const row of rows) {
    const check = rowChecker(row, file);
    const common = checkCommonFields(check, row, clinics, seen[row.kind]);
    if (row.kind === 'patient') {
      const patient = patientOf(check, row, common);
      if (patient) {
        patients.push(patient);
      }
    } else {
      const appointment = appointmentOf(check, row, common, options);
      if (appointment) {
        appointments.push(appointment);
        placed.push({ row, appointment });
      }
    }
    findings.push(...check.problems);
  }
  // After all rows: an appointment may come before its patient in the file.
  findings.push(...crossClinicFindings(placed, patients, file));
  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  const inFile = new Set(patients.map((p) => p.id));
  const references = placed
    .filter(({ appointment }) => !inFile.has(appointment.patientId))
    .map(({ row, appointment: a }) => ({ appointmentId: a.id, patientId: a.patientId, clinicId: a.clinicId, at: { file, ...(row.positions.patientId ?? row.at) } }));
  return { patients, appointments, references, findings };
}

/** One row's problems, and the field readers that report them. */
interface RowChecker {
  problems: Finding[];
  /** A problem at `field` (null: at the row). */
  fail(field: string | null, message: string): void;
  /** A warning at `field`: the row is still imported. */
  warn(field: string, message: string): void;
  /** Trimmed text, undefined when absent or bad. */
  text(field: string, required: boolean): string | undefined;
  /** A required id, undefined when absent or bad. */
  id(field: string): string | undefined;
}

function rowChecker(row: RawRow, file: string): RowChecker {
  const problems: Finding[] = [];
  const fail = (field: string | null, message: string, severity: 'error' | 'warning' = 'error'): void => {
    problems.push({ file, ...(field ? (row.positions[field] ?? row.at) : row.at), message: `${row.kind} ${label(row)}: ${message}`, severity });
  };
  const warn = (field: string, message: string): void => fail(field, message, 'warning');
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
  return { problems, fail: (field, message) => fail(field, message), warn, text, id };
}

/** What every row has: known fields only, an id unique in the file, a known clinic. */
interface CommonFields {
  rowId: string | undefined;
  clinicId: string | undefined;
  clinic: Clinic | undefined;
}

function checkCommonFields(check: RowChecker, row: RawRow, clinics: ReadonlyMap<string, Clinic>, seen: Map<string, number>): CommonFields {
  const known = row.kind === 'patient' ? PATIENT_FIELDS : APPOINTMENT_FIELDS;
  for (const name of Object.keys(row.fields)) {
    if (!known.has(name)) {
      check.fail(name, `unknown field "${name}" (expected ${[...known].join(', ')})`);
    }
  }
  const rowId = check.id('id');
  const clinicId = check.id('clinicId');
  const clinic = clinicId === undefined ? undefined : clinics.get(clinicId);
  if (clinicId !== undefined && !clinic) {
    check.fail('clinicId', `clinicId: no clinic "${clinicId}" in the clinics file`);
  }
  if (rowId !== undefined) {
    const first = seen.get(rowId);
    if (first !== undefined) {
      check.fail('id', `id "${rowId}" already used on line ${first}`);
    } else {
      seen.set(rowId, row.at.line);
    }
  }
  return { rowId, clinicId, clinic };
}

/** The patient a row describes, or null when the row has problems. */
function patientOf(check: RowChecker, row: RawRow, { rowId, clinicId, clinic }: CommonFields): Patient | null {
  const firstName = check.text('firstName', true);
  const lastName = check.text('lastName', true);
  const language = check.text('language', false);
  if (language !== undefined && !LANGUAGE.test(language)) {
    check.fail('language', 'language: expected a two-letter code, e.g. es');
  }
  const rawPhone = row.fields.phone;
  let phone: string | undefined;
  if (rawPhone === undefined || rawPhone === null || rawPhone === '') {
    check.fail(null, 'phone is required');
  } else if (typeof rawPhone !== 'string') {
    // A YAML number has lost any leading 0 or +; make the author say what they mean.
    check.fail('phone', 'phone: write it as quoted text, e.g. "(555) 123-4567"');
  } else {
    const region = clinic?.defaultRegion ?? 'US';
    phone = toE164(rawPhone, region) ?? undefined;
    if (phone === undefined) {
      check.fail('phone', `phone: "${rawPhone}" is not a possible phone number (read in region ${region})`);
    }
  }
  if (check.problems.length > 0) {
    return null;
  }
  return { id: rowId!, clinicId: clinicId!, firstName: firstName!, lastName: lastName!, phone: phone!, ...(language === undefined ? {} : { language }) };
}

/** The appointment a row describes, or null when the row has problems. */
function appointmentOf(check: RowChecker, row: RawRow, { rowId, clinicId, clinic }: CommonFields, options: ValidateOptions): Appointment | null {
  const patientId = check.id('patientId');
  const provider = check.text('provider', false);
  let status = check.text('status', false) ?? 'scheduled';
  if (PATIENT_REQUEST_STATUSES.has(status)) {
    check.warn('status', `status: "${status}" is a patient's request, which only SMS records now (patientResponse); read as "scheduled"`);
    status = 'scheduled';
  } else if (!(IMPORTED_STATUSES as readonly string[]).includes(status)) {
    check.fail('status', `status: "${status}" is not one of ${IMPORTED_STATUSES.join(', ')}`);
  }
  const relative = isRelativeTime(row.fields.startsAt);
  const startsAt =
    relative && options.relativeTo && clinic ? resolveRelativeTime(row.fields.startsAt as string, options.relativeTo, clinic.timezone) : instant(row.fields.startsAt);
  if (row.fields.startsAt === undefined || row.fields.startsAt === null || row.fields.startsAt === '') {
    check.fail(null, 'startsAt is required');
  } else if (relative && !options.relativeTo) {
    check.fail('startsAt', 'startsAt: "+Nd HH:MM" is the demo seed file\'s notation: import it with --relative-dates (days from today, clinic-local time), or give a date-time with a zone, e.g. 2026-12-01T15:00:00Z');
  } else if (relative) {
    if (!startsAt && clinic) {
      check.fail('startsAt', 'startsAt: "+Nd HH:MM" needs a clock time 00:00-23:59');
    }
  } else if (!startsAt) {
    check.fail('startsAt', 'startsAt: expected a date-time with a zone, e.g. 2026-12-01T15:00:00Z or 2026-12-01T09:00:00-06:00');
  }
  if (check.problems.some((p) => p.severity === 'error')) {
    return null;
  }
  const appointment: Appointment = { id: rowId!, clinicId: clinicId!, patientId: patientId!, startsAt: startsAt!, status: status as ImportedStatus };
  if (provider !== undefined) {
    appointment.provider = provider;
  }
  return appointment;
}

/** An appointment whose patient is in the file must be in that patient's clinic. */
function crossClinicFindings(placed: ReadonlyArray<{ row: RawRow; appointment: Appointment }>, patients: readonly Patient[], file: string): Finding[] {
  const patientClinic = new Map(patients.map((p) => [p.id, p.clinicId]));
  const findings: Finding[] = [];
  for (const { row, appointment } of placed) {
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
  return findings;
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
