import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/index.js';
import type { CliIO } from '../../src/cli/io.js';
import { startService, type RunningService } from '../../src/main.js';
import { fixtureServiceEnv } from '../support/service-env.js';

/**
 * The keys commands against a running service: the service reloads KEYS_FILE when the
 * command replaces it, so a created key works and a revoked one stops working, without a restart.
 */
describe('clinic-sms keys with a running server', function () {
  this.timeout(30_000);
  let dir: string;
  let service: RunningService;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-live-'));
    service = await startService(fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), KEYS_FILE: join(dir, 'api-keys.yaml'), WATCH_RULES: 'on' }));
    base = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function keys(...args: string[]): Promise<{ code: number; stdout: string[] }> {
    const stdout: string[] = [];
    const io: CliIO = { env: { KEYS_FILE: join(dir, 'api-keys.yaml'), CLINICS_FILE: 'test/fixtures/clinics.yaml' }, cwd: process.cwd(), out: (l) => stdout.push(l), err: () => undefined };
    return { code: await runCli(['keys', ...args], io), stdout };
  }

  const list = (key: string): Promise<Response> => fetch(`${base}/v1/clinics/downtown/conversations`, { headers: { Authorization: `Bearer ${key}` } });

  /** Asks until the answer is `status` (the reload follows the file's change within a moment). */
  async function eventually(key: string, status: number): Promise<number> {
    const deadline = Date.now() + 10_000;
    let last = 0;
    while (Date.now() < deadline) {
      last = (await list(key)).status;
      if (last === status) {
        return last;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return last;
  }

  it('when a key is created, then the printed key works against the API; when it is revoked, then the API answers 401', async () => {
    const made = await keys('create', '--clinic', 'downtown', '--name', 'front desk', '--scopes', 'conversations:read,conversations:write');
    expect(made.code).to.equal(0);
    const key = made.stdout[0] as string;
    expect(await eventually(key, 200)).to.equal(200);
    const body = (await (await list(key)).json()) as { conversations: unknown[] };
    expect(body.conversations).to.be.an('array');
    // Another clinic's URL with this key: 404, as for any clinic it does not belong to.
    expect((await fetch(`${base}/v1/clinics/northside/conversations`, { headers: { Authorization: `Bearer ${key}` } })).status).to.equal(404);

    const id = key.split('.')[1] as string;
    expect((await keys('revoke', id)).code).to.equal(0);
    expect(await eventually(key, 401)).to.equal(401);
  });
});
