import type { Backend } from '../store/backend.js';
import { MemoryEventOutboxStore } from './memory-outbox-store.js';
import type { EventOutboxStore } from './outbox-store.js';

/**
 * The events part of the backend: the `events` collection on MongoDB (its adapter and the
 * driver loaded only then), Maps on the embedded backend.
 * @param backend - from openBackend
 */
export async function openEventsStorage(backend: Backend): Promise<EventOutboxStore> {
  if (backend.kind === 'mongo') {
    const { MongoEventOutboxStore } = await import('./mongo-outbox-store.js');
    return new MongoEventOutboxStore(backend.db);
  }
  return new MemoryEventOutboxStore();
}
