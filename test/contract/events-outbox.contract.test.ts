import { MongoClient } from 'mongodb';
import { MemoryEventOutboxStore } from '../../src/events/memory-outbox-store.js';
import { MongoEventOutboxStore } from '../../src/events/mongo-outbox-store.js';
import { freshDbName, getTestMongo } from '../support/mongo.js';
import { describeEventOutboxContract } from './events-outbox.contract.js';

describeEventOutboxContract('memory', async () => ({ store: new MemoryEventOutboxStore(), dispose: async () => undefined }));

// The after hook sits inside a describe: a file-level after() would be a root hook that runs
// after bootstrap's open-handles check, which would then see this client still open.
describe('EventOutboxStore on MongoDB', function () {
  let client: Promise<MongoClient> | undefined;
  const dbName = freshDbName('events');
  /** One client for the suite's database, closed in the after hook. */
  function sharedClient(uri: string): Promise<MongoClient> {
    client ??= new MongoClient(uri).connect();
    return client;
  }

  after(async function () {
    const c = await client?.catch(() => undefined);
    client = undefined;
    try {
      await c?.db(dbName).dropDatabase();
    } finally {
      await c?.close();
    }
  });

  describeEventOutboxContract('mongo', async () => {
    const server = await getTestMongo();
    if (!server) {
      return null;
    }
    const db = (await sharedClient(server.uri)).db(dbName);
    // One database for the suite, emptied after each test (a fresh one costs seconds on FerretDB).
    return {
      store: new MongoEventOutboxStore(db),
      dispose: async () => {
        await db.collection('events').deleteMany({});
        await db.collection('eventEndpoints').deleteMany({});
      },
    };
  });
});
