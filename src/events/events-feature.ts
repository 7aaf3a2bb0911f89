import type { Component } from '../lifecycle.js';
import type { Backend } from '../store/backend.js';
import { EventsService, type EventsServiceOptions } from './events-service.js';
import { openEventsStorage } from './events-storage.js';

export interface EventsFeatureOptions extends Pick<EventsServiceOptions, 'clinics' | 'env' | 'logger' | 'registry'> {
  backend: Backend;
  /** The loops' timings (tests shorten them). */
  timings?: Pick<EventsServiceOptions, 'pollMs' | 'timeoutMs' | 'leaseMs' | 'retryDelaysMs' | 'statsMaxAgeMs'>;
}

/**
 * Signed events to practice systems (docs/events.md): the relay and dispatcher deliver what
 * completions left in the outbox. Its component is a background one (BACKGROUND_JOBS).
 * @param options - the backend its outbox opens on, the live clinics, env (secrets), logger, registry
 */
export async function eventsFeature(options: EventsFeatureOptions): Promise<{ events: EventsService; components: Component[] }> {
  const { backend, timings, ...rest } = options;
  const events = new EventsService({ storage: await openEventsStorage(backend), store: backend.store, ...rest, ...timings });
  return {
    events,
    components: [
      {
        name: 'events',
        background: true,
        init: () => events.init(),
        start: () => events.start(),
        stop: (budgetMs) => events.stop(budgetMs),
        // The oldest pending event's age is shown, never a reason: with the database down it is unknown.
        ready: async () => ({ details: { eventsOldestPendingAgeSeconds: await events.oldestPendingAgeSeconds().then(Math.round, () => 'unknown') } }),
      },
    ],
  };
}
