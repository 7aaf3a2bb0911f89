import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { describeStoreContract } from './store.contract.js';

describeStoreContract('memory', async () => {
  const store = new MemoryStore();
  await store.init();
  return { store, dispose: () => store.close() };
});
