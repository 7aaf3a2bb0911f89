import { MongoClient, type MongoClientOptions } from 'mongodb';
import { AppError } from '../../errors.js';
import { MongoStore } from './mongo-store.js';
import type { StoreLogger } from './store-logger.js';

/** The database used when the URI names none. */
export const DEFAULT_DB_NAME = 'clinic-sms';

/**
 * Time budget of every wait on the database for the service. Twilio gives up at 15 s
 * and the webhook must not wait more than about 5 s on the database:
 * - serverSelectionTimeoutMS: how long an operation waits for a reachable server
 *   (the database is down: fail fast, the webhook spools the message);
 * - connectTimeoutMS: one TCP connect + handshake (also the monitor's socket timeout);
 * - socketTimeoutMS: one reply on an open connection (a hung server);
 * - waitQueueTimeoutMS: waiting for a pooled connection under load;
 * - maxTimeMS (per query, MongoStore): the server stops a slow query itself.
 * The driver retries a read once after a network error (retryReads), after a new
 * server selection: a hung server costs socketTimeoutMS + serverSelectionTimeoutMS,
 * 4.5 s, which is the worst case the test in mongo.contract.test.ts measures.
 */
export const MONGO_TIMEOUTS = {
  serverSelectionTimeoutMS: 2000,
  connectTimeoutMS: 2000,
  socketTimeoutMS: 2500,
  waitQueueTimeoutMS: 2000,
  maxTimeMS: 2000,
} as const;

/**
 * The budget of batch commands (import, export, spool replay): nobody waits on the
 * other end, and a big batch on a slow server may take a while.
 */
export const MONGO_BATCH_TIMEOUTS = {
  serverSelectionTimeoutMS: 5000,
  connectTimeoutMS: 5000,
  socketTimeoutMS: 120_000,
  waitQueueTimeoutMS: 10_000,
  maxTimeMS: 120_000,
} as const;

/** Which time budget a store gets. */
export type StorePurpose = 'service' | 'batch';

/** The database named in the URI's path, if any. */
export function dbNameFromUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}

export interface CreateMongoStoreOptions {
  uri: string;
  /** Defaults to the URI's database, then DEFAULT_DB_NAME. */
  dbName?: string;
  logger?: StoreLogger;
  /** 'service' (default): the webhook's tight budget; 'batch': command-line batches. */
  purpose?: StorePurpose;
  /** Extra driver options (tests: monitorCommands). Cannot loosen the time budget by accident: they are applied first. */
  clientOptions?: MongoClientOptions;
}

/**
 * Builds a MongoStore without connecting: the driver connects on the first command,
 * so the service starts while the database is down and ping() reports it.
 * Throws CONFIG_INVALID only for a malformed URI.
 */
export function createMongoStore(options: CreateMongoStoreOptions): MongoStore {
  const { maxTimeMS, ...timeouts } = options.purpose === 'batch' ? MONGO_BATCH_TIMEOUTS : MONGO_TIMEOUTS;
  let client: MongoClient;
  try {
    client = new MongoClient(options.uri, {
      ...options.clientOptions,
      ...timeouts,
      // Optional fields stay absent instead of becoming null.
      ignoreUndefined: true,
      appName: 'clinic-sms',
    });
  } catch (cause) {
    // The driver's message may quote the URI, credentials included: keep it out.
    throw new AppError('CONFIG_INVALID', 'MONGODB_URI is not a valid MongoDB connection string', { cause });
  }
  const store: ConstructorParameters<typeof MongoStore>[0] = {
    client,
    dbName: options.dbName ?? dbNameFromUri(options.uri) ?? DEFAULT_DB_NAME,
    maxTimeMS,
    ownsClient: true,
  };
  if (options.logger) {
    store.logger = options.logger;
  }
  return new MongoStore(store);
}
