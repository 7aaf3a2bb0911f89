import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MediaStore } from '../../src/media/media-store.js';
import { MemoryMediaStore } from '../../src/media/memory-media-store.js';
import { MongoMediaStore } from '../../src/media/mongo-media-store.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { getTestMongo, openTestMongoStore } from './mongo.js';

export interface MediaStores {
  store: Store;
  media: MediaStore;
  /** A second MediaStore on the same data, as a restarted process opens it. */
  reopen(): MediaStore;
  dispose(): Promise<void>;
}

export interface MediaKind {
  name: string;
  /** Fresh stores; null when this kind is not available here. */
  make(): Promise<MediaStores | null>;
}

/** The embedded store with files under a fresh MEDIA_DIR; MongoDB with GridFS when a server is found. */
export function mediaKinds(label: string): MediaKind[] {
  return [
    {
      name: 'embedded store (MEDIA_DIR)',
      make: async () => {
        const dir = join(tmpdir(), `clinic-sms-media-${randomUUID().slice(0, 8)}`);
        const media = new MemoryMediaStore(dir);
        await media.init();
        // The embedded store keeps nothing across a process restart; its records are the same Map.
        return { store: new MemoryStore(), media, reopen: () => media, dispose: () => rm(dir, { recursive: true, force: true }) };
      },
    },
    {
      name: 'MongoDB store (GridFS)',
      make: async () => {
        const server = await getTestMongo();
        if (!server) {
          return null;
        }
        const handle = await openTestMongoStore(server, { label });
        const media = new MongoMediaStore(handle.store.database);
        await media.init();
        return { store: handle.store, media, reopen: () => new MongoMediaStore(handle.store.database), dispose: () => handle.dispose() };
      },
    },
  ];
}
