/**
 * 100,000 patients in the store: import time, then findPatientsByPhone latency for
 * known and unknown phones, one look-up at a time (what one message costs, without
 * queueing), and the same for touchSender, the one call the message hot path makes now
 * (counts the message, reads the opt-out state and the patients on the phone): known
 * phones (sender documents with rosters, as an import leaves them) and unknown phones
 * (a number's first message: creates its document and falls back to a `patients` find).
 * On MongoDB when MONGODB_URI is set; the embedded store is measured too.
 */
import { performance } from 'node:perf_hooks';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Patient } from '../../src/domain.js';
import type { RateWindow, Store } from '../../src/store/store.js';
import { openBenchDb } from '../lib/mongo-db.js';
import { patientToDoc, senderId, toRoster, type PatientDoc, type SenderDoc } from '../../src/store/mongo/documents.js';
import { COLLECTIONS } from '../../src/store/mongo/indexes.js';
import { quantile, round } from '../lib/stats.js';
import { seededRandom } from '../lib/request-mix.js';
import { makePeople } from '../lib/world.js';

export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

export interface LookupResult {
  store: 'mongo' | 'memory';
  patients: number;
  importMs: number;
  lookups: number;
  knownMs: Latency;
  unknownMs: Latency;
  /** Sender documents with rosters loaded (MongoDB; one per clinic + phone) and how long that took. */
  senders?: number;
  sendersImportMs?: number;
  /** touchSender, one call at a time: phones with a sender document and roster (as many calls as look-ups). */
  touchKnownMs?: Latency;
  /** touchSender on numbers never seen (first message: creates the document, falls back to a patients find). */
  touchUnknownMs?: Latency;
  /** How many first touches touchUnknownMs is over. */
  touchUnknownCalls?: number;
  error?: string;
  /** Parts that failed (their numbers are NaN), e.g. a FerretDB scan past the query time limit. */
  partial?: string;
}

type Sender = { clinicId: string; phone: string };

const NO_LATENCY: Latency = { p50: NaN, p99: NaN, max: NaN };

function summarize(times: readonly number[]): Latency {
  return { p50: round(quantile(times, 0.5), 3), p99: round(quantile(times, 0.99), 3), max: round(quantile(times, 1), 3) };
}

async function timeLookups(store: Store, senders: readonly Sender[]): Promise<Latency> {
  const times: number[] = [];
  for (const { clinicId, phone } of senders) {
    const t = performance.now();
    await store.findPatientsByPhone(clinicId, phone);
    times.push(performance.now() - t);
  }
  return summarize(times);
}

/**
 * touchSender, one call at a time. Checks what came back (a known phone has patients, an
 * unknown one none), so a bench that silently misses the rosters does not pass for fast.
 */
async function timeTouches(store: Store, senders: readonly Sender[], window: RateWindow, expect: 'known' | 'unknown'): Promise<Latency> {
  const times: number[] = [];
  for (const { clinicId, phone } of senders) {
    const t = performance.now();
    const state = await store.touchSender(clinicId, phone, window);
    times.push(performance.now() - t);
    if ((state.patients.length > 0) !== (expect === 'known')) {
      throw new Error(`touchSender on a ${expect} phone returned ${state.patients.length} patients`);
    }
  }
  return summarize(times);
}

/** The sender documents an import leaves: one per clinic + phone, with the roster of its patients. */
function senderDocs(patients: readonly Patient[]): SenderDoc[] {
  const byId = new Map<string, Patient[]>();
  for (const p of patients) {
    const id = senderId(p.clinicId, p.phone);
    const list = byId.get(id);
    if (list) {
      list.push(p);
    } else {
      byId.set(id, [p]);
    }
  }
  return [...byId.entries()].map(([id, list]) => {
    const first = list[0] as Patient;
    return { _id: id, clinicId: first.clinicId, phone: first.phone, roster: toRoster(list) };
  });
}

export async function runPatientsScale(options: {
  patients: number;
  lookups: number;
  mongoLookups: number;
  mongoUri?: string | undefined;
  log: (l: string) => void;
}): Promise<LookupResult[]> {
  const clinics = [{ id: 'clinic-0000' }, { id: 'clinic-0001' }];
  const people = makePeople(clinics, Math.ceil(options.patients / clinics.length), 0.1);
  const random = seededRandom(11);
  const pick = (): number => Math.floor(random() * people.patients.length);
  const known = Array.from({ length: options.lookups }, () => people.patients[pick()] as { clinicId: string; phone: string });
  const unknownPhone = (base: number) => (_: unknown, i: number): Sender => ({ clinicId: 'clinic-0000', phone: `+1773${String(base + i).padStart(7, '0')}` });
  const unknown = Array.from({ length: Math.ceil(options.lookups / 4) }, unknownPhone(5_000_000));
  // Numbers no look-up above used: each is touched once, as a number's first message.
  const firstTouch = Array.from({ length: Math.ceil(options.lookups / 4) }, unknownPhone(6_000_000));
  const out: LookupResult[] = [];
  const measure = async (kind: 'mongo' | 'memory', store: Store, importMs: number, lookups: number, loaded?: { senders: number; ms: number }): Promise<void> => {
    // Warm-up: the first queries pay for connections and plans.
    // Each part on its own: on FerretDB a look-up that scans 100,000 patients can pass the
    // 2 s query limit, and that must not hide the other parts' numbers.
    const failures: string[] = [];
    const part = async (name: string, run: () => Promise<Latency>): Promise<Latency> => {
      try {
        return await run();
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
        return NO_LATENCY;
      }
    };
    await part('warm-up', () => timeLookups(store, unknown.slice(0, Math.min(5, lookups))));
    const window: RateWindow = { key: 'bench', expiresAt: new Date(Date.now() + 120_000) };
    // Warm-up of the findAndModify path on a few known phones (later touches of the same phone only count up).
    await part('touch warm-up', () => timeTouches(store, known.slice(-Math.min(3, lookups)), window, 'known'));
    const touchKnownMs = await part('touchSender known', () => timeTouches(store, known.slice(0, lookups), window, 'known'));
    const knownMs = await part('findPatientsByPhone known', () => timeLookups(store, known.slice(0, lookups)));
    const unknownMs = await part('findPatientsByPhone unknown', () => timeLookups(store, unknown.slice(0, Math.ceil(lookups / 4))));
    const touchUnknownMs = await part('touchSender first touch', () => timeTouches(store, firstTouch.slice(0, Math.ceil(lookups / 4)), window, 'unknown'));
    const r: LookupResult = {
      store: kind,
      patients: people.patients.length,
      importMs: round(importMs, 0),
      lookups,
      knownMs,
      unknownMs,
      ...(loaded ? { senders: loaded.senders, sendersImportMs: round(loaded.ms, 0) } : {}),
      touchKnownMs,
      touchUnknownMs,
      touchUnknownCalls: Math.ceil(lookups / 4),
      ...(failures.length > 0 ? { partial: failures.join('; ') } : {}),
    };
    out.push(r);
    options.log(
      `  ${kind}: ${r.patients} patients imported in ${r.importMs} ms${loaded ? ` (+ ${loaded.senders} sender documents with rosters in ${r.sendersImportMs} ms)` : ''}; ` +
        `findPatientsByPhone known p50 ${knownMs.p50} ms p99 ${knownMs.p99} ms; unknown p50 ${unknownMs.p50} ms p99 ${unknownMs.p99} ms; ` +
        `touchSender known p50 ${touchKnownMs.p50} ms p99 ${touchKnownMs.p99} ms max ${touchKnownMs.max} ms; unknown (first touch) p50 ${touchUnknownMs.p50} ms p99 ${touchUnknownMs.p99} ms max ${touchUnknownMs.max} ms` +
        (r.partial ? `; failed parts: ${r.partial}` : ''),
    );
  };
  if (options.mongoUri) {
    const db = await openBenchDb(options.mongoUri, 'patients', { patients: [], appointments: [] });
    try {
      // Loaded with plain insertMany (the look-ups are what is measured here, not the import path).
      const t = performance.now();
      const collection = db.store.client.db(db.dbName).collection<PatientDoc>('patients');
      for (let i = 0; i < people.patients.length; i += 500) {
        await collection.insertMany(people.patients.slice(i, i + 500).map(patientToDoc));
      }
      const importMs = performance.now() - t;
      // The sender documents an import leaves (one per clinic + phone, with its roster), loaded the same way.
      const ts = performance.now();
      const docs = senderDocs(people.patients);
      const senders = db.store.client.db(db.dbName).collection<SenderDoc>(COLLECTIONS.optOuts);
      for (let i = 0; i < docs.length; i += 500) {
        await senders.insertMany(docs.slice(i, i + 500));
      }
      await measure('mongo', db.store, importMs, options.mongoLookups, { senders: docs.length, ms: performance.now() - ts });
    } catch (err) {
      options.log(`  mongo: failed: ${(err as Error).message}`);
      out.push({ store: 'mongo', patients: people.patients.length, importMs: NaN, lookups: 0, knownMs: NO_LATENCY, unknownMs: NO_LATENCY, error: (err as Error).message });
    } finally {
      // First touches store their rosters in the background: done before the database goes.
      await db.store.settle().catch(() => undefined);
      await db.drop().catch(() => undefined);
    }
  }
  const memory = new MemoryStore();
  const t = performance.now();
  await memory.upsertPatients(people.patients);
  await measure('memory', memory, performance.now() - t, options.lookups);
  return out;
}
