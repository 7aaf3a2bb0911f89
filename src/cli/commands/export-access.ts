import type { AccessLogStore, AccessQuery, AccessRecord } from '../../auth/access-log.js';
import { csvCell, type ExportFormat } from '../csv.js';

/** The access export's CSV columns, in order. `keyName` comes from KEYS_FILE, the rest from the record. */
export const ACCESS_CSV_COLUMNS = [
  'at',
  'keyId',
  'keyName',
  'clinicId',
  'method',
  'route',
  'conversationId',
  'status',
  'requestId',
  'who',
  'clientRequestId',
  'clientAddress',
  'userAgent',
  'conversationIds',
  'mediaId',
  'detail',
] as const;

/** `who` in one cell: `api-key:<id>`, `staff:<issuer> <subject> <email>`, `cli:<user>@<host>`. */
function whoCell(who: AccessRecord['who']): string {
  if (!who) {
    return '';
  }
  if (who.kind === 'api-key') {
    return `api-key:${who.keyId}`;
  }
  if (who.kind === 'staff') {
    return `staff:${who.issuer} ${who.subject}${who.email === null ? '' : ` ${who.email}`}`;
  }
  return `cli:${who.osUser}@${who.host}`;
}

/** One access record as the cells of ACCESS_CSV_COLUMNS. */
export function accessToCsvRow(r: AccessRecord, keyName: string): string {
  const cells: Record<(typeof ACCESS_CSV_COLUMNS)[number], string> = {
    at: r.at.toISOString(),
    keyId: r.keyId ?? '',
    keyName,
    clinicId: r.clinicId ?? '',
    method: r.method,
    route: r.route,
    conversationId: r.conversationId ?? '',
    status: String(r.status),
    requestId: r.requestId,
    who: whoCell(r.who),
    clientRequestId: r.clientRequestId ?? '',
    clientAddress: r.clientAddress ?? '',
    userAgent: r.userAgent ?? '',
    conversationIds: (r.conversationIds ?? []).join(' '),
    mediaId: r.mediaId ?? '',
    detail: r.detail ?? '',
  };
  return ACCESS_CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',');
}

/**
 * Streams the access records of a clinic and range (oldest first) to `write`: who looked at
 * what, for a HIPAA accounting. The records hold ids and route patterns only, no PHI.
 * @param trail - the access trail (collection accessLog)
 * @param query - clinic and [since, until)
 * @param format - csv (with a header line) or jsonl
 * @param write - receives each line without its newline
 * @param keyNames - key id to its name, from KEYS_FILE (a key deleted since shows no name)
 * @returns how many records were written
 */
export async function exportAccessRecords(
  trail: AccessLogStore,
  query: AccessQuery,
  format: ExportFormat,
  write: (line: string) => void | Promise<void>,
  keyNames: ReadonlyMap<string, string> = new Map(),
): Promise<number> {
  let n = 0;
  if (format === 'csv') {
    await write(ACCESS_CSV_COLUMNS.join(','));
  }
  for await (const record of trail.list(query)) {
    const keyName = record.keyId === null ? '' : (keyNames.get(record.keyId) ?? '');
    await write(format === 'csv' ? accessToCsvRow(record, keyName) : JSON.stringify({ ...record, keyName: keyName === '' ? null : keyName }));
    n += 1;
  }
  return n;
}
