import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { getTestMongo, openTestMongoStore } from './mongo.js';

/** A store adapter an integration suite runs against. */
export interface StoreKind {
  name: string;
  /** A fresh store and how to dispose of it; null when this kind is not available here. */
  make(): Promise<{ store: Store; dispose(): Promise<void> } | null>;
}

/** The embedded store always; MongoDB when a server is found (see test/support/mongo.ts). */
export function storeKinds(label: string): StoreKind[] {
  return [
    { name: 'memory store', make: async () => ({ store: new MemoryStore(), dispose: async () => undefined }) },
    {
      name: 'MongoDB store',
      make: async () => {
        const server = await getTestMongo();
        return server ? openTestMongoStore(server, { label }) : null;
      },
    },
  ];
}
