/**
 * The test database (DESIGN.md, 'The test database'): MONGODB_URI if set; else
 * mongodb-memory-server (downloads a real mongod where there is internet), tried with
 * a short timeout; else the MongoDB suites are skipped with one loud line saying why.
 * Every store made here lives in a fresh, uniquely named database dropped afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { CommandStartedEvent, MongoClient } from 'mongodb';
import { createMongoStore } from '../../src/store/mongo/create-mongo-store.js';
import type { MongoStore } from '../../src/store/mongo/mongo-store.js';

export interface TestMongo {
  /** Server URI without a database. */
  uri: string;
  source: 'MONGODB_URI' | 'mongodb-memory-server';
}

/** How long mongodb-memory-server may take to find or download mongod and start it. */
const MEMORY_SERVER_TIMEOUT_MS = Number(process.env.MONGOMS_START_TIMEOUT_MS ?? 15000);

let discovery: Promise<TestMongo | null> | undefined;
let announced = false;
/** The mongod this process started, if any: stopped by stopTestMongo() at the end of the run. */
let memoryServer: { stop(): Promise<boolean> } | undefined;

/** Replaces the database in a MongoDB URI (keeps the query string). */
export function uriWithDb(uri: string, dbName: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!match) {
    throw new Error('not a MongoDB URI');
  }
  return `${match[1]}/${encodeURIComponent(dbName)}${match[3] ?? ''}`;
}

/** A database name no other run uses: `t_<label>_<time>_<random>`. */
export function freshDbName(label = 'run'): string {
  return `t_${label}_${Date.now().toString(36)}_${randomUUID().slice(0, 8)}`.replace(/[^A-Za-z0-9_]/g, '_');
}

async function startMemoryServer(): Promise<TestMongo> {
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no mongod within ${MEMORY_SERVER_TIMEOUT_MS} ms`)), MEMORY_SERVER_TIMEOUT_MS);
    timer.unref();
  });
  const starting = MongoMemoryServer.create();
  try {
    const server = await Promise.race([starting, timeout]);
    memoryServer = server;
    return { uri: server.getUri(), source: 'mongodb-memory-server' };
  } catch (err) {
    // A mongod that comes up after the timeout would hold the run open: stop it then.
    starting.then((late) => late.stop(), () => undefined).catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function discover(): Promise<TestMongo | null> {
  const fromEnv = process.env.MONGODB_URI?.trim();
  if (fromEnv) {
    return { uri: fromEnv, source: 'MONGODB_URI' };
  }
  try {
    return await startMemoryServer();
  } catch (err) {
    if (!announced) {
      announced = true;
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      // The one loud line: the MongoDB suites are not silently green.
      console.warn(
        `\n*** MongoDB suites SKIPPED: MONGODB_URI is not set and mongodb-memory-server could not start a mongod (${reason}). ` +
          'Run `eval "$(bash tools/ferretdb/start.sh)"` or set MONGODB_URI to test against MongoDB. ***\n',
      );
    }
    return null;
  }
}

/** The test server, found once per process; null when there is none. */
export function getTestMongo(): Promise<TestMongo | null> {
  discovery ??= discover();
  return discovery;
}

/** Stops the mongod that getTestMongo() started (a child process that would keep mocha alive); a no-op otherwise. */
export async function stopTestMongo(): Promise<void> {
  const server = memoryServer;
  memoryServer = undefined;
  discovery = undefined;
  await server?.stop();
}

export interface CommandCounter {
  /** Names of the commands started since the last reset. */
  readonly names: string[];
  readonly count: number;
  reset(): void;
  stop(): void;
}

/**
 * Counts the commands a client sends (the client must be made with monitorCommands).
 * Ignores the driver's own housekeeping (handshakes and heartbeats are not command
 * events; endSessions is sent at close only).
 * @param client - a MongoClient created with `monitorCommands: true`
 */
export function countCommands(client: MongoClient): CommandCounter {
  const names: string[] = [];
  const listener = (event: CommandStartedEvent): void => {
    names.push(event.commandName);
  };
  client.on('commandStarted', listener);
  return {
    names,
    get count() {
      return names.length;
    },
    reset() {
      names.length = 0;
    },
    stop() {
      client.off('commandStarted', listener);
    },
  };
}

export interface TestMongoStore {
  store: MongoStore;
  dbName: string;
  /** URI of the fresh database (for code that opens its own client, e.g. the CLI). */
  uri: string;
  /** Present when made with `monitor: true`. */
  commands?: CommandCounter;
  /** Drops the database and closes the client. */
  dispose(): Promise<void>;
}

/**
 * A MongoStore on a fresh database of the test server, initialised (indexes made).
 * @param server - from getTestMongo()
 * @param options - label for the database name; monitor to count commands
 */
export async function openTestMongoStore(server: TestMongo, options: { label?: string; monitor?: boolean } = {}): Promise<TestMongoStore> {
  const dbName = freshDbName(options.label);
  const store = createMongoStore({ uri: server.uri, dbName, clientOptions: { monitorCommands: options.monitor === true } });
  try {
    await store.init();
  } catch (err) {
    // The caller gets no handle to dispose, so the client (its monitor and pool hold the
    // process open) is closed here.
    await store.close().catch(() => undefined);
    throw err;
  }
  const handle: TestMongoStore = {
    store,
    dbName,
    uri: uriWithDb(server.uri, dbName),
    async dispose() {
      handle.commands?.stop();
      try {
        await store.client.db(dbName).dropDatabase();
      } finally {
        await store.close();
      }
    },
  };
  if (options.monitor === true) {
    handle.commands = countCommands(store.client);
  }
  return handle;
}

/**
 * Drops a database by name on the test server (for databases made by code under test).
 * @param server - from getTestMongo()
 * @param dbName - the database to drop
 */
export async function dropTestDb(server: TestMongo, dbName: string): Promise<void> {
  const store = createMongoStore({ uri: server.uri, dbName });
  try {
    await store.client.db(dbName).dropDatabase();
  } finally {
    await store.close();
  }
}
