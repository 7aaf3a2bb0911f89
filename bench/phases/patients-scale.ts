/**
 * 100,000 patients in the store: import time, then findPatientsByPhone latency for
 * known and unknown phones, one look-up at a time (what one message costs, without
 * queueing). On MongoDB when MONGODB_URI is set; the embedded store is measured too.
 */
import { performance } from 'node:perf_hooks';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { openBenchDb } from '../lib/mongo-db.js';
import { patientToDoc, type PatientDoc } from '../../src/store/mongo/documents.js';
import { quantile, round } from '../lib/stats.js';
import { seededRandom } from '../lib/request-mix.js';
import { makePeople } from '../lib/world.js';

export interface LookupResult {
  store: 'mongo' | 'memory';
  patients: number;
  importMs: number;
  lookups: number;
  knownMs: { p50: number; p99: number; max: number };
  unknownMs: { p50: number; p99: number; max: number };
  error?: string;
}

async function timeLookups(store: Store, senders: ReadonlyArray<{ clinicId: string; phone: string }>): Promise<{ p50: number; p99: number; max: number }> {
  const times: number[] = [];
  for (const { clinicId, phone } of senders) {
    const t = performance.now();
    await store.findPatientsByPhone(clinicId, phone);
    times.push(performance.now() - t);
  }
  return { p50: round(quantile(times, 0.5), 3), p99: round(quantile(times, 0.99), 3), max: round(quantile(times, 1), 3) };
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
  const unknown = Array.from({ length: Math.ceil(options.lookups / 4) }, (_, i) => ({ clinicId: 'clinic-0000', phone: `+1773${String(5_000_000 + i).padStart(7, '0')}` }));
  const out: LookupResult[] = [];
  const measure = async (kind: 'mongo' | 'memory', store: Store, importMs: number, lookups: number): Promise<void> => {
    // Warm-up: the first queries pay for connections and plans.
    await timeLookups(store, unknown.slice(0, Math.min(5, lookups)));
    const knownMs = await timeLookups(store, known.slice(0, lookups));
    const unknownMs = await timeLookups(store, unknown.slice(0, Math.ceil(lookups / 4)));
    const r: LookupResult = { store: kind, patients: people.patients.length, importMs: round(importMs, 0), lookups, knownMs, unknownMs };
    out.push(r);
    options.log(`  ${kind}: ${r.patients} patients imported in ${r.importMs} ms; findPatientsByPhone known p50 ${knownMs.p50} ms p99 ${knownMs.p99} ms; unknown p50 ${unknownMs.p50} ms p99 ${unknownMs.p99} ms`);
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
      await measure('mongo', db.store, performance.now() - t, options.mongoLookups);
    } catch (err) {
      options.log(`  mongo: failed: ${(err as Error).message}`);
      out.push({ store: 'mongo', patients: people.patients.length, importMs: NaN, lookups: 0, knownMs: { p50: NaN, p99: NaN, max: NaN }, unknownMs: { p50: NaN, p99: NaN, max: NaN }, error: (err as Error).message });
    } finally {
      await db.drop().catch(() => undefined);
    }
  }
  const memory = new MemoryStore();
  const t = performance.now();
  await memory.upsertPatients(people.patients);
  await measure('memory', memory, performance.now() - t, options.lookups);
  return out;
}
