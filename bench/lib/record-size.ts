/**
 * What the embedded store keeps per message, in this process on a MemoryStore of its own,
 * running the same mix through the pipeline (handleMessage), heap after a full GC:
 * - while it fills: the audit record, inbox items, rate counter and opt-out a message leaves
 *   (what the MEMORY_STORE_MAX_MESSAGES bound holds, per message);
 * - once full, at its bound: what still grows by design (opt-outs of new numbers, and rate
 *   counters until their window is swept). The sustained run compares the server's heap growth
 *   per request with that: growth well above it would be a leak outside the store.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { loadSeed } from '../../src/import/seed.js';
import { parseForm } from '../../src/twilio/form-params.js';
import { toInboundMessage } from '../../src/twilio/inbound-message.js';
import { serviceEnv } from './bench-env.js';
import type { RequestMix } from './request-mix.js';
import type { World } from './world.js';

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface KeptBytes {
  /** Heap per message while the store fills (below its bound). */
  filling: number;
  /** Heap per message once the store holds its bound. */
  atBound: number;
  /** The bound (finished messages). */
  maxMessages: number;
}

/**
 * Heap bytes the embedded store keeps per message of the mix, below and at its bound.
 * @param world - clinics, rules and seed
 * @param mix - the requests (as the sustained run sends them)
 * @param maxMessages - the store's bound
 * @param count - messages measured in each part
 */
export async function bytesKeptPerMessage(world: World, mix: RequestMix, maxMessages: number, count = 20_000): Promise<KeptBytes> {
  const gc = getGc();
  const env = serviceEnv(world, { logLevel: 'silent' });
  const config = loadConfig(env);
  const snapshot = await buildSnapshot(config, env);
  const store = new MemoryStore({ maxMessages });
  await loadSeed(store, world.seedFile, snapshot.clinics);
  const deps = { store, logger: createLogger('silent'), metrics: createMetrics(), clock: () => new Date() };
  // Each message is made just in time: made ahead, the originals would be in `before` and freed by `after`.
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await handleMessage(deps, snapshot, toInboundMessage(parseForm(mix.next().body)));
    }
  };
  const measure = async (n: number): Promise<number> => {
    gc();
    const before = process.memoryUsage().heapUsed;
    await run(n);
    gc();
    return Math.round((process.memoryUsage().heapUsed - before) / n);
  };
  // One message first, so lazily built things (formatters, compiled code) are not counted.
  await run(1);
  const filling = await measure(Math.min(count, maxMessages));
  // Fill to the bound (and past it a little), then measure at it.
  await run(Math.max(0, Math.ceil(maxMessages * 1.1) - count));
  const atBound = await measure(count);
  await store.close();
  return { filling, atBound, maxMessages };
}
