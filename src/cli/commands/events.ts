import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadClinicsFile } from '../../config/clinics-file.js';
import { endpointId, resolveEndpoints } from '../../config/event-endpoints.js';
import { isEventType } from '../../events/event-types.js';
import { DELIVERY_STATUSES, type DeliveryStatus, type EventDelivery, type EventOutboxStore } from '../../events/outbox-store.js';
import { postEvent } from '../../events/post-event.js';
import { signEvent } from '../../events/signer.js';
import { openBackend } from '../../store/backend.js';
import { openEventsStorage } from '../../events/events-storage.js';
import type { CliCommand, CliIO } from '../io.js';
import { errorCode } from '../../errors.js';

const USAGE = [
  'usage: clinic-sms events list --clinic ID [--status pending|delivered|failed] [--type T] [--limit N]',
  '       clinic-sms events replay <event-id>          deliver an event again (every endpoint it went to)',
  '       clinic-sms events replay --failed --clinic ID  deliver the clinic\'s failed events again (and re-enable its endpoints)',
  '       clinic-sms events send-test --clinic ID      send a signed ping to every endpoint of the clinic and print each answer',
];

/** MONGODB_URI, or null after saying why it is needed. */
function mongoUri(io: CliIO): string | null {
  const uri = io.env.MONGODB_URI?.trim();
  if (!uri) {
    io.err('error: MONGODB_URI is not set. Events live in MongoDB; the embedded store keeps them only inside the running service.');
    return null;
  }
  return uri;
}

async function withEventsStore<T>(uri: string, fn: (store: EventOutboxStore) => Promise<T>): Promise<T> {
  const backend = await openBackend({ mongodbUri: uri }, { purpose: 'batch' });
  try {
    return await fn(await openEventsStorage(backend));
  } finally {
    await backend.store.close();
  }
}

function line(d: EventDelivery): string {
  const last = d.lastStatus !== undefined ? `HTTP ${d.lastStatus}` : (d.lastError ?? '-');
  return [d.createdAt.toISOString(), d.eventId, d.type, d.status, `attempts=${d.attempts}`, ...(d.replays?.length ? [`replays=${d.replays.length}`] : []), `last=${last}`, `endpoint=${d.endpointId}`, new URL(d.url).host].join('  ');
}

async function list(args: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args, options: { clinic: { type: 'string' }, status: { type: 'string' }, type: { type: 'string' }, limit: { type: 'string' } } });
  if (!values.clinic) {
    io.err(USAGE[0] ?? '');
    return 2;
  }
  if (values.status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(values.status)) {
    io.err('error: --status must be pending, delivered or failed');
    return 2;
  }
  if (values.type !== undefined && !isEventType(values.type)) {
    io.err(`error: unknown event type "${values.type}"`);
    return 2;
  }
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    io.err('error: --limit must be a whole number of at least 1');
    return 2;
  }
  const uri = mongoUri(io);
  if (!uri) {
    return 2;
  }
  const clinicId = values.clinic;
  const status = values.status as DeliveryStatus | undefined;
  const type = values.type;
  const result = await withEventsStore(uri, (store) =>
    store.list({ clinicId, limit, ...(status ? { status } : {}), ...(type !== undefined && isEventType(type) ? { type } : {}) }),
  );
  result.forEach((d) => io.out(line(d)));
  io.err(`${result.length} delivery(ies) of clinic ${clinicId}`);
  return 0;
}

async function replay(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { failed: { type: 'boolean' }, clinic: { type: 'string' } } });
  const now = new Date();
  if (values.failed) {
    const clinicId = values.clinic;
    if (!clinicId || positionals.length > 0) {
      io.err(USAGE[2] ?? '');
      return 2;
    }
    const clinics = await loadClinicsFile(resolve(io.cwd, io.env.CLINICS_FILE || 'config/clinics.yaml'));
    const endpoints = (clinics.byId.get(clinicId)?.events ?? []).map((e) => endpointId(clinicId, e.url));
    const uri = mongoUri(io);
    if (!uri) {
      return 2;
    }
    const n = await withEventsStore(uri, async (store) => {
      await store.enableEndpoints(endpoints);
      return store.requeue({ clinicId, status: 'failed' }, now);
    });
    io.out(`${n} failed delivery(ies) of clinic ${clinicId} queued again; ${endpoints.length} endpoint(s) enabled`);
    return 0;
  }
  const [id] = positionals;
  if (!id || positionals.length > 1) {
    io.err(USAGE[1] ?? '');
    return 2;
  }
  const uri = mongoUri(io);
  if (!uri) {
    return 2;
  }
  const result = await withEventsStore(uri, async (store) => {
    const found = await store.find(id);
    return found.length === 0 ? 0 : store.requeue({ ids: found.map((d) => d.id) }, now);
  });
  if (result === 0) {
    io.err(`error: no event ${id}`);
    return 1;
  }
  io.out(`event ${id}: ${result} delivery(ies) queued again (same webhook-id)`);
  return 0;
}

async function sendTest(args: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({ args, options: { clinic: { type: 'string' }, timeout: { type: 'string' } } });
  if (!values.clinic) {
    io.err(USAGE[3] ?? '');
    return 2;
  }
  const clinics = await loadClinicsFile(resolve(io.cwd, io.env.CLINICS_FILE || 'config/clinics.yaml'));
  const clinic = clinics.byId.get(values.clinic);
  if (!clinic) {
    io.err(`error: no clinic "${values.clinic}" in the clinics file`);
    return 1;
  }
  const endpoints = resolveEndpoints(clinic, io.env);
  if (endpoints.length === 0) {
    io.err(`error: clinic ${clinic.id} has no events endpoint with its secret set`);
    return 1;
  }
  let failures = 0;
  const now = new Date();
  for (const endpoint of endpoints) {
    const id = `msg_test_${now.getTime().toString(36)}_${endpoint.id}`;
    const body = JSON.stringify({ type: 'ping', timestamp: now.toISOString(), data: { clinicId: clinic.id } });
    const result = await postEvent(endpoint.url, signEvent(endpoint.secrets, id, new Date(), body), body, Number(values.timeout ?? 15_000));
    const ok = result.kind === 'answer' && result.status >= 200 && result.status < 300;
    failures += ok ? 0 : 1;
    const answer = result.kind === 'answer' ? `HTTP ${result.status}` : result.kind === 'timeout' ? 'timeout' : `network error ${result.reason}`;
    io.out(`${endpoint.url}  ${answer}  ${ok ? 'ok' : 'FAILED'}`);
  }
  return failures === 0 ? 0 : 1;
}

const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h' || a === 'help';

/** `clinic-sms events list|replay|send-test`. */
export const events: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const run = sub === 'list' ? list : sub === 'replay' ? replay : sub === 'send-test' ? sendTest : undefined;
  if (!run || rest.some(isHelp)) {
    // Asked-for help is the answer (stdout, exit 0); anything else unknown is a mistake (stderr, 2).
    const asked = run !== undefined || isHelp(sub);
    USAGE.forEach((l) => (asked ? io.out(l) : io.err(l)));
    return asked ? 0 : 2;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (errorCode(err) === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || errorCode(err) === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || errorCode(err) === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      io.err(`error: ${(err as Error).message.split('\n')[0] ?? ''}`);
      USAGE.forEach((l) => io.err(l));
      return 2;
    }
    throw err;
  }
};
