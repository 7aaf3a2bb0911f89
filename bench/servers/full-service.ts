/**
 * Variants (c) and (d): the whole service as `npm start` runs it (startService with this
 * process's environment: the embedded store, or MongoDB when MONGODB_URI is set).
 * Extra commands: `reload-one` times loadClinicRules for one clinic (what a clinic's
 * edit costs), `reload-all` times reloadRules (the watcher's and SIGHUP's reload).
 */
import { performance } from 'node:perf_hooks';
import { startService } from '../../src/main.js';
import { loadClinicRules } from '../../src/rules/load-rules.js';
import { reloadRules } from '../../src/service/rules-reload.js';
import { serveParent } from './child-ipc.js';

const started = performance.now();
const service = await startService(process.env);
const serviceStartMs = Math.round((performance.now() - started) * 10) / 10;

async function onCommand(name: string, args: unknown): Promise<unknown> {
  if (name === 'reload-one') {
    const id = (args as { clinicId: string }).clinicId;
    const clinic = service.live.snapshot().clinics.byId.get(id);
    if (!clinic) {
      throw new Error(`no clinic ${id}`);
    }
    const t = performance.now();
    const rules = await loadClinicRules({ rulesDir: service.config.rulesDir, clinic });
    return { ms: performance.now() - t, rules: rules.rules.length };
  }
  if (name === 'reload-all') {
    const t = performance.now();
    const result = await reloadRules({ config: service.config, env: process.env, live: service.live, logger: service.logger, metrics: service.metrics });
    return { ms: performance.now() - t, status: result.status };
  }
  throw new Error(`unknown command ${name}`);
}

serveParent(
  service.server,
  async () => {
    await service.stop();
  },
  onCommand,
  { serviceStartMs, clinics: service.live.snapshot().clinics.clinics.length, store: service.store.kind },
);
