import { errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

export interface StoreInitializer {
  /** True once indexes were created. */
  done(): boolean;
  stop(): void;
}

/**
 * Creates the store's indexes, now or as soon as the database answers: the service
 * starts while MongoDB is unreachable, and retries with backoff (1 s doubling to 30 s).
 */
export function initializeStore(store: Pick<Store, 'init' | 'kind'>, logger: Logger, what = 'store'): StoreInitializer {
  let finished = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = 1000;
  const attempt = (): void => {
    store.init().then(
      () => {
        finished = true;
        // After stop() the service is shutting down: a late success would log out of order.
        if (!stopped) {
          logger.info({ store: store.kind }, `${what} ready: indexes in place`);
        }
      },
      (err: unknown) => {
        if (stopped) {
          return;
        }
        logger.warn({ code: errorCode(err), retryInMs: delay }, `${what} not ready yet; will retry`);
        timer = setTimeout(attempt, delay);
        timer.unref();
        delay = Math.min(delay * 2, 30_000);
      },
    );
  };
  attempt();
  return {
    done: () => finished,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
