import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';
import type { ApiKey, Scope } from './api-key.js';
import type { AccessLogStore } from './access-log.js';
import { MemoryFailedKeyAttempts } from './failed-key-attempts.js';
import { KeyRing } from './key-ring.js';
import { staffGuard, type FailedKeyAttempts } from './require-api-key.js';

export interface ApiKeys {
  /** The keys in force (KEYS_FILE; its reload replaces them). */
  ring: KeyRing;
  /** The failed-key limit shared by every route a key opens (none when a test turned it off). */
  attempts: FailedKeyAttempts | undefined;
  /** The access trail, key and scope middleware of a route. */
  guard(route: string, scope: Scope): Middleware[];
}

/**
 * The staff API keys: the ring, the failed-key limit (per client address, in this
 * instance's memory: src/auth/failed-key-attempts.ts) and the guard every keyed route uses.
 * @param options - the keys read at start, the access trail, logger; a test's own attempts (null: none)
 */
export function apiKeys(options: { keys: { keys: ApiKey[]; missing: boolean }; keysFile: string; accessLog: AccessLogStore; logger: Logger; attempts?: FailedKeyAttempts | null }): ApiKeys {
  if (options.keys.missing) {
    options.logger.warn({ keysFile: options.keysFile }, 'no staff API keys file: the staff API refuses every request (401)');
  }
  const ring = new KeyRing(options.keys.keys);
  const attempts = options.attempts === undefined ? new MemoryFailedKeyAttempts() : (options.attempts ?? undefined);
  return {
    ring,
    attempts,
    guard: (route, scope) => staffGuard({ accessLog: options.accessLog, clock: () => new Date(), ring: () => ring, ...(attempts ? { attempts } : {}) }, route, scope),
  };
}
