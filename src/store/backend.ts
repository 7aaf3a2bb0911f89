import type { Db } from 'mongodb';
import type { Store } from './store.js';
import { dropsMessages, type DroppedTable, type MessageDrops } from './memory/memory-store.js';
import type { StorePurpose } from './mongo/create-mongo-store.js';
import type { MongoStore } from './mongo/mongo-store.js';
import type { StoreLogger } from './mongo/store-logger.js';

/** The embedded backend: everything in this process (feature parts keep their own Maps). */
export interface MemoryBackend {
  readonly kind: 'memory';
  readonly store: Store;
  /**
   * The store's bound at work: feature parts listen here and let go of what belongs to a
   * dropped message (null for a store that drops nothing, such as a test's wrapper).
   */
  readonly drops: MessageDrops | null;
}

/** The MongoDB backend: feature parts open their collections on `db`, the store's database. */
export interface MongoBackend {
  readonly kind: 'mongo';
  readonly store: Store;
  /** The service's database: the one way a feature's MongoDB adapter reaches it. */
  readonly db: Db;
}

/**
 * Where everything is kept. Each feature opens its storage from it with one switch on
 * `kind` (see docs/store.md, "Adding a feature's storage"):
 * ```ts
 * backend.kind === 'mongo' ? new MongoThing(backend.db) : new MemoryThing()
 * ```
 */
export type Backend = MemoryBackend | MongoBackend;

/** What openBackend reads from the configuration (Config has these keys). */
export interface BackendConfig {
  /** Unset, null or empty: the embedded backend. */
  mongodbUri?: string | null | undefined;
  /** The embedded store's bound (MEMORY_STORE_MAX_MESSAGES). */
  memoryStoreMaxMessages?: number;
}

export interface OpenBackendOptions {
  logger?: StoreLogger;
  /**
   * 'service' (default): every wait bounded so a webhook never waits more than ~5 s;
   * 'batch': longer socket and query limits for command-line batches (import, export).
   */
  purpose?: StorePurpose;
  /** Told of each record the embedded store drops to stay within its bound (a metric). */
  onDrop?: (table: DroppedTable) => void;
}

/**
 * Chooses the backend from the configuration. For MongoDB it does not wait for the
 * database: the backend is returned at once, ping() rejects with STORE_UNAVAILABLE until
 * the database answers, and the caller runs init() (idempotent) once it does.
 * The driver is imported only when a URI is given, so the embedded backend never loads it.
 * @param config - MONGODB_URI (if any) and the embedded store's bound
 * @param options - logger, time budget, the embedded store's drop counter
 */
export async function openBackend(config: BackendConfig, options: OpenBackendOptions = {}): Promise<Backend> {
  const uri = config.mongodbUri?.trim();
  if (!uri) {
    const { MemoryStore } = await import('./memory/memory-store.js');
    return memoryBackend(
      new MemoryStore({
        ...(config.memoryStoreMaxMessages === undefined ? {} : { maxMessages: config.memoryStoreMaxMessages }),
        ...(options.onDrop ? { onDrop: options.onDrop } : {}),
      }),
    );
  }
  const { createMongoStore } = await import('./mongo/create-mongo-store.js');
  return mongoBackend(createMongoStore({ uri, purpose: options.purpose ?? 'service', ...(options.logger ? { logger: options.logger } : {}) }));
}

/**
 * The embedded backend around a store (tests hand in wrapped or pre-filled stores).
 * @param store - any Store that is not on MongoDB
 */
export function memoryBackend(store: Store): MemoryBackend {
  return { kind: 'memory', store, drops: dropsMessages(store) ? store : null };
}

/**
 * The MongoDB backend of a MongoStore (tests make theirs with monitoring on).
 * @param store - the store; its database is the backend's
 */
export function mongoBackend(store: MongoStore): MongoBackend {
  return { kind: 'mongo', store, db: store.database };
}
