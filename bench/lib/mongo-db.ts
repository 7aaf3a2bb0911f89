/** A fresh MongoDB database for one bench variant, seeded with the world's people, dropped afterwards. */
import { randomBytes } from 'node:crypto';
import type { Appointment, Patient } from '../../src/domain.js';
import { createMongoStore } from '../../src/store/mongo/create-mongo-store.js';
import type { MongoStore } from '../../src/store/mongo/mongo-store.js';

export interface BenchDb {
  /** URI naming the fresh database. */
  uri: string;
  dbName: string;
  store: MongoStore;
  drop(): Promise<void>;
}

/** Replaces the database in a MongoDB URI (keeps the query string). */
export function withDb(uri: string, dbName: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!match) {
    throw new Error('MONGODB_URI is not a MongoDB URI');
  }
  return `${match[1]}/${encodeURIComponent(dbName)}${match[3] ?? ''}`;
}

/**
 * Makes a uniquely named database, creates the indexes and loads people into it.
 * @param serverUri - MONGODB_URI
 * @param label - part of the database name
 * @param people - patients and appointments to load
 * @param monitor - count commands (monitorCommands on the client)
 */
export async function openBenchDb(
  serverUri: string,
  label: string,
  people: { patients: readonly Patient[]; appointments: readonly Appointment[] },
  monitor = false,
): Promise<BenchDb> {
  const dbName = `bench_${label}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const store = createMongoStore({ uri: serverUri, dbName, clientOptions: { monitorCommands: monitor } });
  await store.init();
  await store.upsertPatients(people.patients);
  await store.upsertAppointments(people.appointments);
  return {
    uri: withDb(serverUri, dbName),
    dbName,
    store,
    async drop() {
      try {
        await store.client.db(dbName).dropDatabase();
      } finally {
        await store.close();
      }
    },
  };
}
