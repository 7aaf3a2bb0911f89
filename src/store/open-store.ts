import type { Store } from './store.js';
import type { MemoryStoreOptions } from './memory/memory-store.js';
import type { StorePurpose } from './mongo/create-mongo-store.js';
import type { StoreLogger } from './mongo/store-logger.js';

export interface OpenStoreOptions {
  /** Unset or empty: the embedded (memory) store. */
  mongodbUri?: string | undefined;
  logger?: StoreLogger;
  /**
   * 'service' (default): every wait bounded so a webhook never waits more than ~5 s;
   * 'batch': longer socket and query limits for command-line batches (import, export).
   */
  purpose?: StorePurpose;
  /** The embedded store's bound (when no URI is given). */
  memory?: MemoryStoreOptions;
}

/**
 * Chooses the store from the configuration. For MongoDB it does not wait for the
 * database: the store is returned at once, ping() rejects with STORE_UNAVAILABLE until
 * the database answers, and the caller runs init() (idempotent) once it does.
 * The driver is imported only when a URI is given, so the embedded store never loads it.
 * @param options - the MongoDB URI (if any) and a logger
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const uri = options.mongodbUri?.trim();
  if (!uri) {
    const { MemoryStore } = await import('./memory/memory-store.js');
    return new MemoryStore(options.memory);
  }
  const { createMongoStore } = await import('./mongo/create-mongo-store.js');
  return createMongoStore({ uri, purpose: options.purpose ?? 'service', ...(options.logger ? { logger: options.logger } : {}) });
}
