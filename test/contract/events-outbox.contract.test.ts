import { MemoryEventOutboxStore } from '../../src/events/memory-outbox-store.js';
import { MongoEventOutboxStore } from '../../src/events/mongo-outbox-store.js';
import { MongoClient } from 'mongodb';
import { freshDbName, getTestMongo } from '../support/mongo.js';

let client: Promise<MongoClient> | undefined;
const dbName = freshDbName('events');
/** One client for the suite's databases, closed after the run. */
function sharedClient(uri: string): Promise<MongoClient> {
  client ??= new MongoClient(uri).connect();
  return client;
}
after(async function () {
  const c = await client;
  await c?.db(dbName).dropDatabase();
  await c?.close();
});
import { describeEventOutboxContract } from './events-outbox.contract.js';

describeEventOutboxContract('memory', async () => ({ store: new MemoryEventOutboxStore(), dispose: async () => undefined }));

describeEventOutboxContract('mongo', async () => {
  const server = await getTestMongo();
  if (!server) {
    return null;
  }
  const client = await sharedClient(server.uri);
  const db = client.db(dbName);
  // One database for the suite, emptied after each test (a fresh one costs seconds on FerretDB).
  return {
    store: new MongoEventOutboxStore(db),
    dispose: async () => {
      await db.collection('events').deleteMany({});
      await db.collection('eventEndpoints').deleteMany({});
    },
  };
});
