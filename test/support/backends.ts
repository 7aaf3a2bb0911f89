import { memoryBackend, mongoBackend, type Backend } from '../../src/store/backend.js';
import { MongoStore } from '../../src/store/mongo/mongo-store.js';
import type { Store } from '../../src/store/store.js';

/**
 * The backend of a store a test made: MongoDB for a MongoStore (its database), the embedded
 * backend for anything else (MemoryStore, the wrappers of test/support/store-wrappers.ts).
 * @param store - the test's store
 */
export function backendFor(store: Store): Backend {
  return store instanceof MongoStore ? mongoBackend(store) : memoryBackend(store);
}
