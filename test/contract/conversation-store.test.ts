import { MemoryConversationStore } from '../../src/conversations/memory-conversation-store.js';
import { MongoConversationStore } from '../../src/conversations/mongo-conversation-store.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { describeConversationStoreContract } from './conversation-store.contract.js';

describeConversationStoreContract('memory', async () => {
  const store = new MemoryStore();
  const conversations = new MemoryConversationStore(store);
  await conversations.init();
  return { conversations, store, dispose: () => store.close() };
});

describeConversationStoreContract('mongo', async () => {
  const server = await getTestMongo();
  if (!server) {
    return null;
  }
  const handle = await openTestMongoStore(server, { label: 'conversations' });
  const conversations = new MongoConversationStore(handle.store.database);
  await conversations.init();
  return { conversations, store: handle.store, dispose: () => handle.dispose() };
});
