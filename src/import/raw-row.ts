/** Where something is in a data file (1-based). */
export interface Position {
  line: number;
  col: number;
}

export type RowKind = 'patient' | 'appointment';

/** One record of a data file, before validation: its fields and where each one was. */
export interface RawRow {
  kind: RowKind;
  /** Where the record starts. */
  at: Position;
  fields: Record<string, unknown>;
  /** Where each field's value is (falls back to `at`). */
  positions: Record<string, Position>;
}
