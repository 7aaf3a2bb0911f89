import { Gauge, type Registry } from 'prom-client';
import type { Store } from '../store/store.js';
import type { MediaStore } from './media-store.js';

/**
 * The media backlog as stored, read when /metrics is scraped (the same on every instance):
 * messages whose media the relay has not turned into records yet, and records whose fetch or
 * deletion at Twilio is not done. Growing while nobody runs the jobs is what
 * BACKGROUND_JOBS=off everywhere looks like. A failed read leaves the last value: a scrape
 * never fails on the database.
 * @param registry - the service's registry
 * @param stores - the service's store and the media store
 */
export function registerMediaMetrics(registry: Registry, stores: { store: Pick<Store, 'countMediaPending'>; media: Pick<MediaStore, 'countWork'> }): void {
  const storedGauge = (name: string, help: string, read: () => Promise<number>): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect(): Promise<void> {
        await read().then((n) => this.set(n), () => undefined);
      },
    });
  };
  storedGauge('sms_media_messages_waiting', 'Messages with media not yet turned into media records (the media relay backlog), as stored', () => stores.store.countMediaPending());
  storedGauge('sms_media_jobs_waiting', 'Media records with work left: fetches and deletions at Twilio (the media worker backlog), as stored', () => stores.media.countWork());
}
