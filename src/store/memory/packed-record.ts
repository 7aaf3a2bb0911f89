/**
 * Finished audit records as JSON text, Dates tagged: `{"$date": <ms>}`. One flat string per
 * record is the cheapest thing to keep for the garbage collector (no pointers to trace, no
 * external memory to account for), and the embedded store keeps one per message for as
 * long as the process lives. Undefined values are left out, as the MongoDB adapter leaves
 * them out (`ignoreUndefined`).
 */
export function packRecord(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.getTime() } : v;
  });
}

export function unpackRecord<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const tagged = v as { $date?: unknown };
      // Only the tag's exact shape: a form field called "$date" holds a string, never a number.
      if (typeof tagged.$date === 'number' && Object.keys(v).length === 1) {
        return new Date(tagged.$date);
      }
    }
    return v;
  }) as T;
}
