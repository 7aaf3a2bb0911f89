/**
 * Who a record names: an API key, a signed-in staff person (OpenID Connect issuer + subject,
 * and the email), or someone running the command line (OS user and host).
 */
export type Accessor =
  | { kind: 'api-key'; keyId: string }
  | { kind: 'staff'; issuer: string; subject: string; email: string | null }
  | { kind: 'cli'; osUser: string; host: string };

/**
 * Who asked for what, one record per staff API request, staff page, media read and CLI
 * export (HIPAA asks who looked at what). Route patterns and ids only: never a phone number,
 * name or body. The fields after `status` are optional for records written before they were kept.
 */
export interface AccessRecord {
  at: Date;
  /** The server's own id of the request (also its X-Request-Id answer header and log line). */
  requestId: string;
  /**
   * The key that authenticated, or the one a refused request proved it held (the right
   * secret of a revoked or expired key); null: none.
   */
  keyId: string | null;
  /** The clinic the URL names. */
  clinicId: string | null;
  method: string;
  /** The route pattern, e.g. `/v1/clinics/:clinicId/conversations/:id`. */
  route: string;
  conversationId: string | null;
  status: number;
  /** Who (null: nobody could be told). */
  who?: Accessor | null;
  /** The X-Request-Id the client sent, as sent (cut to 100 characters); null: none. */
  clientRequestId?: string | null;
  /** The client's address (ctx.ip: the proxy's view when TRUST_PROXY is on). */
  clientAddress?: string | null;
  /** The User-Agent header, cut to 300 characters. */
  userAgent?: string | null;
  /** A list read: the conversations it returned. */
  conversationIds?: string[];
  /** A media read: the media id asked for. */
  mediaId?: string;
  /** What a command did (CLI records), e.g. `audit records <since> to <until> as csv to stdout`. */
  detail?: string;
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
