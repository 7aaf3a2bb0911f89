import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Clinic } from '../domain.js';
import { AppError, errorCode, fileFinding, type Finding } from '../errors.js';
import type { AppointmentUpsertSummary, Store, UpsertSummary } from '../store/store.js';
import { parseCsvRows } from './parse-csv.js';
import { parseStructuredRows } from './parse-structured.js';
import type { RawRow } from './raw-row.js';
import { validateRows, type ValidatedRows } from './validate-rows.js';

export interface ImportProgress {
  kind: 'patients' | 'appointments';
  done: number;
  total: number;
}

export interface ImportOptions {
  store: Store;
  clinics: ReadonlyMap<string, Clinic>;
  /** Called after each chunk is written. */
  onProgress?: (progress: ImportProgress) => void;
  /** Rows per write (default 2500). */
  chunkSize?: number;
  /** Check the rows against the store and count what the import would do; write nothing. */
  dryRun?: boolean;
  /** Seed files only: resolve `startsAt: +Nd HH:MM` against this instant (relative-time.ts). */
  relativeTo?: Date;
}

export interface ImportSummary {
  patients: UpsertSummary;
  appointments: AppointmentUpsertSummary;
}

/**
 * Parses a data file by its extension (.yaml/.yml, .json, .csv) into rows with positions.
 * @param text - the file's content
 * @param file - its path: names the format and the findings
 */
export function parseDataFile(text: string, file: string): { rows: RawRow[]; findings: Finding[] } {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') {
    return parseCsvRows(text, file);
  }
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') {
    return parseStructuredRows(text, file);
  }
  return { rows: [], findings: [fileFinding(file, `unknown file type "${ext}" (expected .yaml, .yml, .json or .csv)`)] };
}

/**
 * Parses and validates a data file's text; throws IMPORT_INVALID listing every bad row.
 * @param text - the file's content
 * @param file - its path
 * @param clinics - known clinics by id
 * @param relativeTo - seed files only: resolve `startsAt: +Nd HH:MM` against this instant
 */
export function checkDataFile(text: string, file: string, clinics: ReadonlyMap<string, Clinic>, relativeTo?: Date): ValidatedRows {
  const parsed = parseDataFile(text, file);
  if (parsed.findings.length > 0) {
    throw new AppError('IMPORT_INVALID', `invalid data file ${file}`, { findings: parsed.findings });
  }
  const validated = validateRows(parsed.rows, file, clinics, relativeTo ? { relativeTo } : {});
  if (validated.findings.some((f) => f.severity !== 'warning')) {
    throw new AppError('IMPORT_INVALID', `invalid data file ${file}: ${validated.findings.length} problem(s), nothing imported`, {
      findings: validated.findings,
    });
  }
  return validated;
}

/**
 * Imports patients and appointments, all or nothing: every row is validated first and
 * nothing is written if any row is bad. Rows are upserted by id (re-import updates),
 * patients before appointments, in chunks.
 * @param text - the file's content
 * @param file - its path (format and messages)
 * @param options - store, clinics, progress callback
 */
export async function importData(text: string, file: string, options: ImportOptions): Promise<ImportSummary> {
  return importRows(checkDataFile(text, file, options.clinics, options.relativeTo), options);
}

/**
 * An error for each appointment that names a patient neither in the file nor in the store,
 * or a stored patient of another clinic, at the row's patientId (file:line:col).
 * @param rows - from checkDataFile
 * @param store - where the other patients are
 */
export async function checkPatientReferences(rows: Pick<ValidatedRows, 'references'>, store: Store): Promise<Finding[]> {
  if (rows.references.length === 0) {
    return [];
  }
  const stored = await store.findPatientClinics([...new Set(rows.references.map((r) => r.patientId))]);
  const findings: Finding[] = [];
  for (const ref of rows.references) {
    const clinicId = stored.get(ref.patientId);
    const problem =
      clinicId === undefined
        ? `no patient "${ref.patientId}" in the file or in the database`
        : clinicId !== ref.clinicId
          ? `patient "${ref.patientId}" belongs to clinic "${clinicId}", not "${ref.clinicId}"`
          : null;
    if (problem) {
      findings.push({ ...ref.at, message: `appointment "${ref.appointmentId}": ${problem}`, severity: 'error' });
    }
  }
  return findings;
}

/**
 * Writes rows that checkDataFile accepted, once every appointment's patient is known
 * (checkPatientReferences; IMPORT_INVALID otherwise, nothing written): upserts by id,
 * patients first, in chunks. Appointments get only their practice-owned fields written
 * (Store.upsertAppointments). A dry run writes nothing and counts what would happen,
 * the patient responses the import would retire included.
 * @param rows - from checkDataFile
 * @param options - store, progress callback, dryRun
 */
export async function importRows(rows: Pick<ValidatedRows, 'patients' | 'appointments' | 'references'>, options: Omit<ImportOptions, 'clinics'>): Promise<ImportSummary> {
  const { patients, appointments } = rows;
  const findings = await checkPatientReferences(rows, options.store);
  if (findings.length > 0) {
    throw new AppError('IMPORT_INVALID', `invalid data file ${findings[0]!.file}: ${findings.length} appointment(s) name an unknown patient, nothing imported`, { findings });
  }
  const summary: ImportSummary = { patients: { inserted: 0, updated: 0, unchanged: 0 }, appointments: { inserted: 0, updated: 0, unchanged: 0, retiredResponses: 0 } };
  const chunkSize = options.chunkSize ?? 2500;
  const dryRun = options.dryRun === true;
  const at = new Date();
  const write = async <T, S extends UpsertSummary>(kind: ImportProgress['kind'], rows: readonly T[], total: S, upsert: (chunk: readonly T[]) => Promise<S>): Promise<void> => {
    for (let start = 0; start < rows.length; start += chunkSize) {
      const result = await upsert(rows.slice(start, start + chunkSize));
      for (const key of Object.keys(total) as Array<keyof S>) {
        (total[key] as number) += result[key] as number;
      }
      options.onProgress?.({ kind, done: Math.min(start + chunkSize, rows.length), total: rows.length });
    }
  };
  await write('patients', patients, summary.patients, (chunk) => options.store.upsertPatients(chunk, { dryRun }));
  await write('appointments', appointments, summary.appointments, (chunk) => options.store.upsertAppointments(chunk, { dryRun, at }));
  return summary;
}

/**
 * Reads and imports a data file (see importData).
 * @param file - path of a .yaml, .yml, .json or .csv file
 * @param options - store, clinics, progress callback
 */
export async function importDataFile(file: string, options: ImportOptions): Promise<ImportSummary> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new AppError('IMPORT_INVALID', `cannot read ${file}`, {
      cause,
      findings: [fileFinding(file, `cannot read: ${errorCode(cause) ?? (cause as Error).message}`)],
    });
  }
  return importData(text, file, options);
}
