import { fileFinding, type Finding } from '../errors.js';
import type { Position, RawRow, RowKind } from './raw-row.js';

interface CsvRecord {
  at: Position;
  cells: { value: string; at: Position }[];
}

/**
 * Splits CSV text (RFC 4180: `,` separated, `"` quoted, `""` an escaped quote, quoted
 * fields may span lines) into records, each cell with its line and column.
 * @param text - the file's content
 * @returns the records, and an error message with position if a quote is left open
 */
export function splitCsv(text: string): { records: CsvRecord[]; error?: { at: Position; message: string } } {
  const records: CsvRecord[] = [];
  let line = 1;
  let col = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let cells: CsvRecord['cells'] = [];
  let recordAt: Position = { line, col };
  const n = text.length;
  while (i <= n) {
    // Start of a cell.
    const cellAt = { line, col };
    let value = '';
    if (text[i] === '"') {
      i += 1;
      col += 1;
      for (;;) {
        if (i >= n) {
          return { records, error: { at: cellAt, message: 'unterminated quoted field' } };
        }
        const ch = text[i] as string;
        if (ch === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            col += 2;
            continue;
          }
          i += 1;
          col += 1;
          break;
        }
        if (ch === '\n') {
          line += 1;
          col = 1;
        } else {
          col += 1;
        }
        value += ch;
        i += 1;
      }
      // Anything between the closing quote and the separator is kept as written.
      while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
        value += text[i];
        i += 1;
        col += 1;
      }
    } else {
      while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
        value += text[i];
        i += 1;
        col += 1;
      }
    }
    cells.push({ value, at: cellAt });
    if (i < n && text[i] === ',') {
      i += 1;
      col += 1;
      continue;
    }
    // End of record (newline or end of text).
    if (!(cells.length === 1 && cells[0]?.value === '')) {
      records.push({ at: recordAt, cells });
    }
    if (i >= n) {
      break;
    }
    if (text[i] === '\r') {
      i += 1;
    }
    if (text[i] === '\n') {
      i += 1;
    }
    line += 1;
    col = 1;
    cells = [];
    recordAt = { line, col };
  }
  return { records };
}

const APPOINTMENT_COLUMNS = new Set(['patientId', 'startsAt']);

/**
 * Reads a CSV data file: a header row naming the fields, then one record a row. A
 * `type` column (patient | appointment) allows both in one file; without it, a file
 * whose header has patientId or startsAt holds appointments, otherwise patients.
 * Empty cells are absent fields.
 * @param text - the file's content
 * @param file - its path, for findings
 */
export function parseCsvRows(text: string, file: string): { rows: RawRow[]; findings: Finding[] } {
  const findings: Finding[] = [];
  const { records, error } = splitCsv(text);
  if (error) {
    findings.push({ file, ...error.at, message: error.message, severity: 'error' });
    return { rows: [], findings };
  }
  const [header, ...body] = records;
  if (!header) {
    findings.push(fileFinding(file, 'empty file: expected a header row (e.g. id,clinicId,firstName,lastName,phone)'));
    return { rows: [], findings };
  }
  const names = header.cells.map((c) => c.value.trim());
  names.forEach((name, index) => {
    if (name === '') {
      findings.push({ file, ...header.cells[index]!.at, message: `column ${index + 1} has no name`, severity: 'error' });
    } else if (names.indexOf(name) !== index) {
      findings.push({ file, ...header.cells[index]!.at, message: `column "${name}" appears twice`, severity: 'error' });
    }
  });
  if (findings.length > 0) {
    return { rows: [], findings };
  }
  const typeIndex = names.indexOf('type');
  const defaultKind: RowKind = names.some((n) => APPOINTMENT_COLUMNS.has(n)) ? 'appointment' : 'patient';
  const rows: RawRow[] = [];
  for (const record of body) {
    if (record.cells.length !== names.length) {
      findings.push({ file, ...record.at, message: `expected ${names.length} columns, found ${record.cells.length}`, severity: 'error' });
      continue;
    }
    let kind = defaultKind;
    if (typeIndex >= 0) {
      const type = record.cells[typeIndex]!.value.trim();
      if (type !== 'patient' && type !== 'appointment') {
        findings.push({ file, ...record.cells[typeIndex]!.at, message: `type: expected "patient" or "appointment", found "${type}"`, severity: 'error' });
        continue;
      }
      kind = type;
    }
    const row: RawRow = { kind, at: record.at, fields: {}, positions: {} };
    record.cells.forEach((cell, index) => {
      const name = names[index]!;
      if (index !== typeIndex && cell.value.trim() !== '') {
        row.fields[name] = cell.value.trim();
        row.positions[name] = cell.at;
      }
    });
    rows.push(row);
  }
  return { rows, findings };
}
