import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startService } from '../../src/main.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { createLogCapture } from '../support/log-capture.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { backendFor } from '../support/backends.js';

/** A store whose index creation takes a while (MongoDB on a cold start). */
class SlowInitStore extends MemoryStore {
  override async init(): Promise<void> {
    await new Promise((r) => setTimeout(r, 300));
    await super.init();
  }
}

describe('shutdown log order', () => {
  it('when the service stops while the store is still creating its indexes, then "shutdown complete" is the last line and nothing of the start follows the drain', async () => {
    const spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-order-'));
    const logs = createLogCapture();
    try {
      const service = await startService(
        fixtureServiceEnv({ RULES_DIR: 'test/fixtures/rules/good', SPOOL_DIR: spoolDir, KEYS_FILE: path.join(spoolDir, 'no-keys.yaml'), LOG_LEVEL: 'info' }),
        { backend: backendFor(new SlowInitStore()), logDestination: logs },
      );
      await service.stop();
      await new Promise((r) => setTimeout(r, 500));

      const msgs = logs.records().map((r) => String(r.msg));
      const drain = msgs.indexOf('shutdown: no new connections; waiting for requests in flight');
      expect(drain, msgs.join('\n')).to.be.greaterThan(msgs.indexOf('listening'));
      expect(msgs.at(-1), msgs.join('\n')).to.equal('shutdown complete');
      expect(msgs.slice(drain).filter((m) => m.startsWith('store ready')), msgs.join('\n')).to.deep.equal([]);
    } finally {
      await fs.rm(spoolDir, { recursive: true, force: true });
    }
  });
});
