import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { createWriteStream, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { loadClinicsFile } from '../../config/clinics-file.js';
import type { MessageRecord } from '../../domain.js';
import { AppError, errorCode } from '../../errors.js';
import { openBackend } from '../../store/backend.js';
import type { MessageQuery, Store } from '../../store/store.js';
import { loadKeysFile } from '../../auth/api-keys-file.js';
import { openStaffStores } from '../../conversations/staff-api.js';
import { wantsHelp, type CliCommand, type CliIO } from '../io.js';
import { csvCell, type ExportFormat } from '../csv.js';
import { exportAccessRecords } from './export-access.js';

const USAGE = [
  'usage: clinic-sms export [--access] --clinic ID --since DATE --until DATE [--format csv|jsonl] [--out FILE]',
  '  Writes the clinic\'s audit records (one per inbound message) for a compliance request;',
  '  with --access, its staff API access records instead (who looked at what: key, route, conversation, status).',
  '  DATE is YYYY-MM-DD (a day in the clinic\'s time zone; --until includes that whole day)',
  '  or a full ISO timestamp with an offset (--until is then exclusive).',
  '  Audit records hold PHI (phone numbers, message bodies): --out files are created 0600.',
];

export type { ExportFormat } from '../csv.js';

/** The CSV columns, in order. */
export const CSV_COLUMNS = [
  'receivedAt',
  'completedAt',
  'messageSid',
  'clinicId',
  'status',
  'via',
  'from',
  'to',
  'body',
  'numMedia',
  'media',
  'patientIds',
  'rulesFired',
  'actions',
  'reply',
  'error',
  'duplicateDeliveries',
  'totalMs',
] as const;

/** One record as the cells of CSV_COLUMNS. */
export function recordToCsvRow(r: MessageRecord): string {
  const cells: Record<(typeof CSV_COLUMNS)[number], string> = {
    receivedAt: r.receivedAt.toISOString(),
    completedAt: r.completedAt?.toISOString() ?? '',
    messageSid: r.messageSid,
    clinicId: r.clinicId ?? '',
    status: r.status,
    via: r.via,
    from: r.message.from,
    to: r.message.to,
    body: r.message.body,
    numMedia: String(r.message.numMedia),
    media: r.message.media.map((m) => `${m.contentType} ${m.url}`).join(' | '),
    patientIds: r.patientIds.join(';'),
    rulesFired: r.rulesFired.join(';'),
    actions: r.actions.map((a) => `${a.type}:${a.outcome}`).join(';'),
    reply: r.reply ?? '',
    error: r.error ?? '',
    duplicateDeliveries: String(r.duplicateDeliveries ?? 0),
    totalMs: r.timings?.totalMs === undefined ? '' : String(r.timings.totalMs),
  };
  return CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',');
}

/** One record as a JSON line (dates as ISO strings). */
export function recordToJsonLine(r: MessageRecord): string {
  return JSON.stringify(r);
}

/**
 * Streams a clinic's records for the range to `write`, one line at a time.
 * @param store - where the records are
 * @param query - clinic and [since, until)
 * @param format - csv (with a header line) or jsonl
 * @param write - receives each line without its newline
 * @returns how many records were written
 */
export async function exportRecords(store: Store, query: MessageQuery, format: ExportFormat, write: (line: string) => void | Promise<void>): Promise<number> {
  let n = 0;
  if (format === 'csv') {
    await write(CSV_COLUMNS.join(','));
  }
  for await (const record of store.listMessages(query)) {
    await write(format === 'csv' ? recordToCsvRow(record) : recordToJsonLine(record));
    n += 1;
  }
  return n;
}

/** UTC offset of `timeZone` at `at`, ms (local = UTC + offset). */
function zoneOffset(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(at));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second')) - Math.floor(at / 1000) * 1000;
}

/** The instant local midnight starts on a YYYY-MM-DD day in `timeZone`. */
export function startOfLocalDay(day: string, timeZone: string): Date {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  let at = guess - zoneOffset(guess, timeZone);
  at = guess - zoneOffset(at, timeZone); // again, in case a DST change lies between
  return new Date(at);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads --since/--until: a day in the clinic's zone (--until: through the end of that
 * day) or an ISO timestamp with an offset. Throws BAD_REQUEST naming the option.
 */
export function parseRange(since: string, until: string, timeZone: string): { since: Date; until: Date } {
  const read = (value: string, option: string, endOfDay: boolean): Date => {
    if (DAY.test(value)) {
      const check = new Date(`${value}T00:00:00Z`);
      if (Number.isNaN(check.getTime()) || check.toISOString().slice(0, 10) !== value) {
        throw new AppError('BAD_REQUEST', `${option}: not a calendar day: ${value}`);
      }
      if (!endOfDay) {
        return startOfLocalDay(value, timeZone);
      }
      const next = new Date(check.getTime() + 86_400_000).toISOString().slice(0, 10);
      return startOfLocalDay(next, timeZone);
    }
    if (STAMP.test(value) && !Number.isNaN(Date.parse(value))) {
      return new Date(value);
    }
    throw new AppError('BAD_REQUEST', `${option}: expected YYYY-MM-DD or an ISO timestamp with an offset, got "${value}"`);
  };
  const range = { since: read(since, '--since', false), until: read(until, '--until', true) };
  if (range.until <= range.since) {
    throw new AppError('BAD_REQUEST', '--until must be after --since');
  }
  return range;
}

function parseArgs(args: string[]): Map<string, string> | string {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i += 1) {
    const key = args[i] as string;
    if (key === '--access') {
      out.set(key, 'true');
      continue;
    }
    if (!['--clinic', '--since', '--until', '--format', '--out'].includes(key)) {
      return `unknown option ${key}`;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) {
      return `${key} needs a value`;
    }
    out.set(key, value);
    i += 1;
  }
  for (const required of ['--clinic', '--since', '--until']) {
    if (!out.has(required)) {
      return `${required} is required`;
    }
  }
  return out;
}

/** Key names by id from KEYS_FILE, for the access export's `keyName` column (empty when the file cannot be read). */
async function keyNames(io: CliIO): Promise<ReadonlyMap<string, string>> {
  const file = resolve(io.cwd, io.env.KEYS_FILE || 'config/api-keys.yaml');
  try {
    return new Map((await loadKeysFile(file)).keys.map((k) => [k.id, k.name]));
  } catch {
    io.err(`warning: cannot read ${file}; the keyName column is left empty (keyId is always there)`);
    return new Map();
  }
}

function openOut(file: string): Promise<WriteStream> {
  return new Promise((resolveStream, reject) => {
    const stream = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    stream.once('open', () => resolveStream(stream));
    stream.once('error', reject);
  });
}

/** Who runs this process, as the OS knows them (USER when the passwd entry cannot be read, as in some containers). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? `uid ${process.getuid?.() ?? '?'}`;
  }
}

/**
 * `clinic-sms export`: a clinic's audit records (or with --access its access records) from
 * MongoDB (MONGODB_URI) as CSV or JSON lines, to --out FILE (refuses to overwrite) or stdout.
 * Progress and the summary go to stderr and carry no PHI.
 */
export const exportCommand: CliCommand = async (args, io) => {
  if (wantsHelp(args)) {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    io.err(`error: ${parsed}`);
    USAGE.forEach((l) => io.err(l));
    return 2;
  }
  const format = (parsed.get('--format') ?? 'csv') as ExportFormat;
  if (format !== 'csv' && format !== 'jsonl') {
    io.err('error: --format must be csv or jsonl');
    return 2;
  }
  const uri = io.env.MONGODB_URI?.trim();
  if (!uri) {
    io.err('error: MONGODB_URI is not set. The audit records live in MongoDB; the embedded store keeps nothing once the service exits.');
    return 2;
  }
  const clinicId = parsed.get('--clinic') as string;
  const clinics = await loadClinicsFile(resolve(io.cwd, io.env.CLINICS_FILE || 'config/clinics.yaml'));
  const clinic = clinics.byId.get(clinicId);
  if (!clinic) {
    io.err(`warning: clinic "${clinicId}" is not in the clinics file; dates are read in UTC`);
  }
  const range = parseRange(parsed.get('--since') as string, parsed.get('--until') as string, clinic?.timezone ?? 'UTC');
  const outFile = parsed.get('--out');
  const stream = outFile ? await openOut(resolve(io.cwd, outFile)) : null;
  const write = stream
    ? (line: string): Promise<void> | void => {
        if (!stream.write(`${line}\n`)) {
          return new Promise((r) => stream.once('drain', () => r()));
        }
        return undefined;
      }
    : (line: string): void => io.out(line);
  const access = parsed.has('--access');
  const backend = await openBackend({ mongodbUri: uri });
  const { store } = backend;
  try {
    // A bulk export of bodies and phones is an access like any other: who ran it, what, when.
    // Recorded first: when the trail cannot be written, nothing is exported.
    const trail = (await openStaffStores(backend)).accessLog;
    await trail.append({
      at: new Date(),
      requestId: randomUUID(),
      keyId: null,
      clinicId,
      method: 'CLI',
      route: 'clinic-sms export',
      conversationId: null,
      status: 200,
      who: { kind: 'cli', osUser: osUser(), host: hostname() },
      detail: `${access ? 'access' : 'audit'} records ${range.since.toISOString()} to ${range.until.toISOString()} as ${format} to ${outFile ? 'a file' : 'stdout'}`,
    });
    const n = access
      ? await exportAccessRecords(trail, { clinicId, ...range }, format, write, await keyNames(io))
      : await exportRecords(store, { clinicId, ...range }, format, write);
    io.err(`exported ${n} ${access ? 'access ' : ''}record(s) of clinic ${clinicId}, ${range.since.toISOString()} to ${range.until.toISOString()} (exclusive), as ${format}${outFile ? ` to ${outFile}` : ''}`);
    return 0;
  } catch (err) {
    if (errorCode(err) === 'STORE_UNAVAILABLE') {
      io.err('error: cannot reach MongoDB (MONGODB_URI); the export is incomplete.');
      return 1;
    }
    throw err;
  } finally {
    if (stream) {
      await new Promise<void>((r) => stream.end(() => r()));
    }
    await store.close();
  }
};
