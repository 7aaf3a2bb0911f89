/**
 * What the embedded store keeps per message by design (the audit record, staff inbox
 * items, opt-outs, rate counters): heap after a full GC per message, running the same
 * mix of messages through the pipeline (handleMessage) in this process on a fresh
 * MemoryStore. The sustained run compares the server's heap growth per request with it:
 * growth well above it would be a leak outside the store.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { loadSeed } from '../../src/store/seed.js';
import { parseForm } from '../../src/twilio/form-params.js';
import { toInboundMessage } from '../../src/twilio/inbound-message.js';
import { serviceEnv } from './bench-env.js';
import type { RequestMix } from './request-mix.js';
import type { World } from './world.js';

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Heap bytes the embedded store keeps per message of the mix.
 * @param world - clinics, rules and seed
 * @param mix - the requests (as the sustained run sends them)
 * @param count - messages to run
 */
export async function bytesKeptPerMessage(world: World, mix: RequestMix, count = 20_000): Promise<number> {
  const gc = getGc();
  const env = serviceEnv(world, { logLevel: 'silent' });
  const config = loadConfig(env);
  const snapshot = await buildSnapshot(config, env);
  const store = new MemoryStore();
  await loadSeed(store, world.seedFile, snapshot.clinics);
  const deps = { store, logger: createLogger('silent'), metrics: createMetrics(), clock: () => new Date() };
  // One message first, so lazily built things (formatters, compiled code) are not counted.
  await handleMessage(deps, snapshot, toInboundMessage(parseForm(mix.next().body)));
  gc();
  const before = process.memoryUsage().heapUsed;
  // Each message is made just in time: made ahead, the originals would be in `before` and freed by `after`.
  for (let i = 0; i < count; i++) {
    await handleMessage(deps, snapshot, toInboundMessage(parseForm(mix.next().body)));
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  await store.close();
  return Math.round((after - before) / count);
}
