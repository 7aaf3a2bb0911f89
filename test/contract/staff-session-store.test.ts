import { MemorySessionStore } from '../../src/staff/auth/session-store.js';
import { MongoSessionStore } from '../../src/staff/auth/mongo-session-store.js';
import { getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { describeSessionStoreContract } from './staff-session-store.contract.js';

describeSessionStoreContract('memory', async () => {
  const sessions = new MemorySessionStore();
  await sessions.init();
  return { sessions, dispose: async () => undefined };
});

describeSessionStoreContract('mongo', async () => {
  const server = await getTestMongo();
  if (!server) {
    return null;
  }
  const handle = await openTestMongoStore(server, { label: 'sessions' });
  const sessions = new MongoSessionStore(handle.store.database);
  await sessions.init();
  return { sessions, dispose: () => handle.dispose() };
});
