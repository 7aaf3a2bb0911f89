import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Config } from '../config/load-config.js';
import type { Clinic } from '../domain.js';
import type { Logger } from '../logger.js';
import type { Component } from '../lifecycle.js';
import { mediaRoutes } from './media-routes.js';
import { MediaService } from './media-service.js';
import type { MediaStore } from './media-store.js';
import { MemoryMediaStore } from './memory-media-store.js';
import type { Backend } from '../store/backend.js';
import type { Registry } from 'prom-client';
import { registerMediaMetrics } from './media-metrics.js';

export interface RunningMedia {
  service: MediaService;
  store: MediaStore;
  /** The media route, when the staff API's guard was given (none otherwise: nothing is served unauthenticated). */
  routers: Router[];
  /**
   * The media store (its indexes) and the media jobs (background: the relay and worker;
   * stopping drops downloads in flight, fetched again once their lease runs out).
   */
  components: Component[];
}

export interface StartMediaOptions {
  config: Readonly<Config>;
  env: Record<string, string | undefined>;
  /** The backend: the media part opens beside its store (openMediaStorage). */
  backend: Backend;
  logger: Logger;
  /** The clinic as configured now (clinics reload). */
  clinic: (id: string) => Clinic | undefined;
  /** A media store to use instead of the backend's (tests). */
  store?: MediaStore;
  /** The relay's and worker's poll interval, ms (tests shorten it). */
  pollMs?: number;
  /** Whether the instance is busy serving: the worker then paces itself (media-worker.ts). */
  busy?: () => boolean;
  /** Where the media backlog gauges go (media-metrics.ts); none without it. */
  registry?: Registry;
  /**
   * The staff API's access trail, key and scope (`conversations:read`) middleware, in
   * that order. Without it the route is not mounted.
   */
  guard?: readonly Middleware[];
  /** The conversation of a clinic's message, named in the media route's access records. */
  conversationOf?: (clinicId: string, messageSid: string) => Promise<string | null>;
}

/**
 * The media part of the backend: GridFS and the `media` collection on MongoDB (its adapter
 * and the driver loaded only then), MEDIA_DIR and Maps on the embedded backend.
 * @param backend - from openBackend
 * @param mediaDir - MEDIA_DIR (embedded backend)
 */
export async function openMediaStorage(backend: Backend, mediaDir: string): Promise<MediaStore> {
  if (backend.kind === 'mongo') {
    const { MongoMediaStore } = await import('./mongo-media-store.js');
    return new MongoMediaStore(backend.db);
  }
  const media = new MemoryMediaStore(mediaDir);
  // The embedded store is bounded: a message's media records and files go with it.
  backend.drops?.onMessageDropped((dropped) => {
    void media.forget(dropped).catch(() => undefined);
  });
  return media;
}

/**
 * The media feature for one instance: its store part beside the service's store (GridFS
 * on MongoDB, MEDIA_DIR on the embedded store), the relay and worker, the route, and the
 * components the runner starts (indexes made as soon as the database answers).
 * @param options - config, env, the service's store, logger, live clinics, the staff guard
 */
export async function startMedia(options: StartMediaOptions): Promise<RunningMedia> {
  const { config, logger, backend } = options;
  const { store } = backend;
  const media = options.store ?? (await openMediaStorage(backend, config.mediaDir));
  if (options.registry) {
    registerMediaMetrics(options.registry, { store, media });
  }
  const service = new MediaService({
    store,
    media,
    clinic: options.clinic,
    policy: { production: config.nodeEnv === 'production', apiBaseUrl: config.twilioApiBaseUrl },
    env: options.env,
    defaultToken: config.authTokens[0],
    logger,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.busy === undefined ? {} : { worker: { busy: options.busy } }),
  });
  return {
    service,
    store: media,
    routers: options.guard ? [mediaRoutes({ media, guard: options.guard, ...(options.conversationOf ? { conversationOf: options.conversationOf } : {}) })] : [],
    components: [
      { name: 'media store', init: () => media.init() },
      { name: 'media jobs', background: true, start: () => service.start(), stop: () => service.kill() },
    ],
  };
}
