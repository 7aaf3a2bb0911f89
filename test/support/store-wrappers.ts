import { AppError } from '../../src/errors.js';
import type { Store } from '../../src/store/store.js';

/** Store methods that talk to the database (everything but `kind`). */
const isCall = (value: unknown): value is (...args: unknown[]) => unknown => typeof value === 'function';

/**
 * A real store behind a switch: while `down` is set, every call fails with
 * STORE_UNAVAILABLE, as an unreachable database does.
 * @param store - the real store
 */
export function switchableStore<S extends Store>(store: S): { store: S; down: boolean } {
  const handle = { down: false, store: store };
  handle.store = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (!isCall(value)) {
        return value;
      }
      return (...args: unknown[]): unknown => {
        if (handle.down) {
          return Promise.reject(new AppError('STORE_UNAVAILABLE', 'switched off (test)'));
        }
        return value.apply(target, args);
      };
    },
  });
  return handle;
}

/**
 * A real store whose every call first waits `delayMs(method)` (a database under load). The
 * delay is read per call, so a test can slow the store down or speed it up as it goes.
 * @param store - the real store
 * @param delayMs - the wait before a call of `method`, ms
 */
export function slowStore<S extends Store>(store: S, delayMs: (method: string) => number): S {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (!isCall(value) || prop === 'close' || prop === 'listMessages') {
        return isCall(value) ? value.bind(target) : value;
      }
      return async (...args: unknown[]): Promise<unknown> => {
        const ms = delayMs(String(prop));
        if (ms > 0) {
          await new Promise((resolve) => setTimeout(resolve, ms));
        }
        return value.apply(target, args);
      };
    },
  });
}
