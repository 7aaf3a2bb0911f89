/**
 * Who asked for what, one record per staff API request (HIPAA asks who looked at what).
 * Route patterns and ids only: never a phone number, name or body.
 */
export interface AccessRecord {
  at: Date;
  requestId: string;
  /** The key that authenticated (null: none did). */
  keyId: string | null;
  /** The clinic the URL names. */
  clinicId: string | null;
  method: string;
  /** The route pattern, e.g. `/v1/clinics/:clinicId/conversations/:id`. */
  route: string;
  conversationId: string | null;
  status: number;
}

export interface AccessQuery {
  clinicId?: string;
  since: Date;
  until: Date;
}

/** The access trail's store part (collection `accessLog`). */
export interface AccessLogStore {
  init(): Promise<void>;
  append(record: AccessRecord): Promise<void>;
  /** Oldest first, `since` <= at < `until` (for `clinic-sms export --access`). */
  list(query: AccessQuery): AsyncIterable<AccessRecord>;
}

const matches = (r: AccessRecord, q: AccessQuery): boolean => r.at >= q.since && r.at < q.until && (q.clinicId === undefined || r.clinicId === q.clinicId);

/** The embedded store's trail: an array (nothing survives a restart, like the rest of it). */
export class MemoryAccessLog implements AccessLogStore {
  private readonly records: AccessRecord[] = [];

  async init(): Promise<void> {}

  async append(record: AccessRecord): Promise<void> {
    this.records.push(structuredClone(record));
  }

  async *list(query: AccessQuery): AsyncIterable<AccessRecord> {
    const rows = this.records.filter((r) => matches(r, query)).sort((a, b) => a.at.getTime() - b.at.getTime());
    for (const row of rows) {
      yield structuredClone(row);
    }
  }
}
