import type { InboxItem, MessageRecord } from '../../domain.js';

/**
 * Documents the embedded store keeps in its record arena (record-arena.ts), outside the V8
 * heap, as JSON text with Dates tagged: `{"$date": <ms>}`. Those are finished audit records
 * and staff inbox items. Undefined values are left out, as the MongoDB adapter leaves them
 * out (`ignoreUndefined`).
 *
 * Both keep their Dates as their own fields (receivedAt, completedAt, lastDuplicateAt;
 * createdAt), so those are tagged directly and the rest goes through JSON.stringify as it is:
 * a replacer called for every key cost more than the stringify. A Date deeper down would come
 * back as a string, so the type checks refuse one (DATES_ARE_TOP_LEVEL below).
 */
export function packRecord(record: MessageRecord | InboxItem): string {
  const top: Record<string, unknown> = {};
  for (const key in record) {
    const v = (record as unknown as Record<string, unknown>)[key];
    top[key] = v instanceof Date ? { $date: v.getTime() } : v;
  }
  return JSON.stringify(top);
}

/** True when a Date can occur anywhere inside T. */
type HasDate<T> = T extends Date
  ? true
  : T extends ReadonlyArray<infer U>
    ? HasDate<U>
    : T extends object
      ? true extends { [K in keyof T]-?: HasDate<T[K]> }[keyof T]
        ? true
        : false
      : false;

/** The fields of T below its top level, where packRecord would not tag a Date. */
type NestedFields<T> = { [K in keyof T]-?: T[K] extends Date | undefined ? never : T[K] }[keyof T];

/**
 * Compile-time guards for packRecord's shortcut: a Date field added below the top level of a
 * packed document type fails the type check here, instead of coming back from the embedded
 * store as a string.
 */
export const DATES_ARE_TOP_LEVEL: [HasDate<NestedFields<MessageRecord>>, HasDate<NestedFields<InboxItem>>] extends [false, false] ? true : never = true;

export function unpackRecord<T>(text: string): T {
  // packRecord tags only top-level Dates (DATES_ARE_TOP_LEVEL), so only the top level is
  // looked at: a reviver called for every value cost several times the parse.
  const record = JSON.parse(text) as Record<string, unknown>;
  for (const key in record) {
    const v = record[key];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const tagged = v as { $date?: unknown };
      // Only the tag's exact shape: a form field called "$date" holds a string, never a number.
      if (typeof tagged.$date === 'number' && Object.keys(v).length === 1) {
        record[key] = new Date(tagged.$date);
      }
    }
  }
  return record as T;
}
