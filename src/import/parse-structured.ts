import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { Finding } from '../errors.js';
import type { Position, RawRow, RowKind } from './raw-row.js';

const LISTS: Record<string, RowKind> = { patients: 'patient', appointments: 'appointment' };

/**
 * Reads a YAML or JSON data file (JSON is read by the YAML parser, which keeps
 * positions): a map with `patients` and/or `appointments` lists of maps, the shape
 * DESIGN.md fixes.
 * @param text - the file's content
 * @param file - its path, for findings
 */
export function parseStructuredRows(text: string, file: string): { rows: RawRow[]; findings: Finding[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const findings: Finding[] = [];
  const pos = (node: Node | null | undefined): Position => {
    const p = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { line: p.line, col: p.col };
  };
  const add = (at: Position, message: string): void => {
    findings.push({ file, ...at, message, severity: 'error' });
  };
  for (const err of doc.errors) {
    const p = lineCounter.linePos(err.pos[0]);
    add({ line: p.line, col: p.col }, err.message.split('\n')[0] ?? 'syntax error');
  }
  if (findings.length > 0) {
    return { rows: [], findings };
  }
  const root = doc.contents;
  if (!isMap(root)) {
    add(pos(root), 'expected a map with "patients" and/or "appointments" lists');
    return { rows: [], findings };
  }
  const rows: RawRow[] = [];
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const kind = LISTS[key];
    if (!kind) {
      add(pos(pair.key as Node), `unknown section "${key}" (expected "patients" or "appointments")`);
      continue;
    }
    const list = pair.value as Node | null;
    if (list === null || (isScalar(list) && list.value === null)) {
      continue;
    }
    if (!isSeq(list)) {
      add(pos(list), `${key}: expected a list`);
      continue;
    }
    for (const item of list.items as Node[]) {
      if (!isMap(item)) {
        add(pos(item), `${key}: each entry must be a map of fields`);
        continue;
      }
      const row: RawRow = { kind, at: pos(item), fields: {}, positions: {} };
      for (const field of item.items) {
        const name = isScalar(field.key) ? String(field.key.value) : '';
        const value = field.value as Node | null;
        row.fields[name] = value === null ? null : (value as { toJSON(): unknown }).toJSON();
        row.positions[name] = pos(value ?? (field.key as Node));
      }
      rows.push(row);
    }
  }
  return { rows, findings };
}
