import { MongoClient, type Db } from 'mongodb';
import { MemoryEventOutboxStore } from '../../src/events/memory-outbox-store.js';
import { MongoEventOutboxStore } from '../../src/events/mongo-outbox-store.js';
import type { EventOutboxStore } from '../../src/events/outbox-store.js';
import { freshDbName, getTestMongo } from './mongo.js';

export interface EventStoreHandle {
  store: EventOutboxStore;
  /** A second adapter on the same data (another instance on the same database); memory: the same store. */
  another(): EventOutboxStore;
  /** The MongoDB database (mongo only). */
  db?: Db;
  dispose(): Promise<void>;
}

export interface EventStoreKind {
  name: string;
  make(): Promise<EventStoreHandle | null>;
}

/** The embedded events store always; MongoDB when a test server is found (a fresh database each). */
export function eventStoreKinds(): EventStoreKind[] {
  return [
    {
      name: 'memory store',
      make: async () => {
        const store = new MemoryEventOutboxStore();
        return { store, another: () => store, dispose: async () => undefined };
      },
    },
    {
      name: 'MongoDB store',
      make: async () => {
        const server = await getTestMongo();
        if (!server) {
          return null;
        }
        const clients = [await new MongoClient(server.uri).connect(), await new MongoClient(server.uri).connect()];
        const name = freshDbName('events');
        const store = new MongoEventOutboxStore(clients[0]!.db(name));
        await store.init();
        return {
          store,
          db: clients[0]!.db(name),
          another: () => new MongoEventOutboxStore(clients[1]!.db(name)),
          dispose: async () => {
            await clients[0]!.db(name).dropDatabase();
            await Promise.all(clients.map((c) => c.close()));
          },
        };
      },
    },
  ];
}
