// Reads the live rules/ on purpose: compose.yaml mounts ./rules. (Allowed in test/support/fixture-rules.ts.)
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import YAML from 'yaml';
import { createApiKey } from '../../src/auth/api-key.js';
import { renderKeysFile } from '../../src/auth/api-keys-file.js';
import { startService, type RunningService } from '../../src/main.js';
import { SHIPPED_RULES_DIR } from '../support/fixture-rules.js';
import { freshDbName, getTestMongo, uriWithDb } from '../support/mongo.js';

/** Addresses on the loopback network (127.0.0.0/8): one stands in for compose's proxy, two for clients behind it. */
const PROXY_ADDRESS = '127.0.0.2';
const CLIENT_A = '127.0.0.3';
const CLIENT_B = '127.0.0.4';
const BAD = 'Bearer csk.guess.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

interface ComposeApp {
  environment: Record<string, string>;
  volumes: string[];
  networks?: Record<string, { ipv4_address?: string }>;
}

/** `${NAME:-default}` and `${NAME:?message}` as compose resolves them, from `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, rest: string | undefined) => {
    const v = vars[name];
    if (v !== undefined && v !== '') {
      return v;
    }
    if (op === '?') {
      throw new Error(`compose would refuse: ${name}: ${rest ?? ''}`);
    }
    return rest ?? '';
  });
}

/** A stand-in for Caddy: forwards from PROXY_ADDRESS, setting X-Forwarded-For to the client it sees (as Caddy does for an untrusted client). */
async function startProxy(target: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'localhost' };
    const out = http.request({ host: '127.0.0.1', port: target, localAddress: PROXY_ADDRESS, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** One GET from a given local address, with no keep-alive. */
function get(port: number, from: string, path: string, headers: Record<string, string>): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, localAddress: from, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Issue 27, bug 1: the service as compose.yaml configures it, behind its proxy: one client's
 * bad keys do not lock out another client's good key. The environment is app1's, read from
 * compose.yaml; only what a test cannot have is mapped: the proxy's address (compose's
 * fixed 172.28.0.10) to a loopback stand-in, the database to the test MongoDB, the mounts
 * to the repository's folders, the port and spool to this test's own.
 */
describe('compose.yaml behind its proxy: failed keys are counted per client', function () {
  this.timeout(60_000);
  let dir: string;
  let service: RunningService | undefined;
  let proxy: { port: number; close(): Promise<void> } | undefined;
  let good: string;
  let dbUri: string;

  before(async function () {
    const mongo = await getTestMongo();
    if (!mongo) {
      this.skip();
    }
    const compose = YAML.parse(readFileSync('compose.yaml', 'utf8'), { merge: true }) as { services: Record<string, ComposeApp> };
    const app = compose.services.app1!;
    const proxyAddress = compose.services.proxy?.networks?.default?.ipv4_address;
    expect(app.environment.TRUST_PROXY, 'the instances trust exactly the proxy service').to.equal(proxyAddress);

    dir = mkdtempSync(join(tmpdir(), 'compose-proxy-'));
    // The config mount, as compose mounts it (CONFIG_DIR unset: deploy/config.example), plus one key for the clinic.
    const configMount = app.volumes.map((v) => interpolate(v, {}).split(':')).find(([, target]) => target === '/app/config');
    expect(configMount?.[0]).to.equal('./deploy/config.example');
    const configDir = join(dir, 'config');
    cpSync(configMount![0]!, configDir, { recursive: true });
    const made = createApiKey({ id: 'front-desk', clinicId: 'main-street', name: 'front desk', scopes: ['conversations:read'] }, new Date());
    good = made.key;
    writeFileSync(join(configDir, 'api-keys.yaml'), renderKeysFile([made.entry]));

    dbUri = uriWithDb(mongo!.uri, freshDbName('compose'));
    const env = Object.fromEntries(Object.entries(app.environment).map(([k, v]) => [k, interpolate(String(v), { TWILIO_AUTH_TOKEN: 'compose-test-token-0123456789' })]));
    const mapped = {
      ...env,
      TRUST_PROXY: PROXY_ADDRESS,
      MONGODB_URI: dbUri,
      PORT: '0',
      HOST: '127.0.0.1',
      CLINICS_FILE: env.CLINICS_FILE!.replace('/app/config', configDir),
      KEYS_FILE: env.KEYS_FILE!.replace('/app/config', configDir),
      RULES_DIR: SHIPPED_RULES_DIR,
      SPOOL_DIR: join(dir, 'spool'),
      LOG_LEVEL: 'silent',
      WATCH_RULES: 'off',
    };
    expect(mapped).to.include({ NODE_ENV: 'production', SEED_FILE: 'none', BACKGROUND_JOBS: 'off' });
    service = await startService(mapped);
    proxy = await startProxy((service.server.address() as AddressInfo).port);
  });

  after(async () => {
    await proxy?.close();
    await service?.stop();
    if (dbUri) {
      const client = new MongoClient(dbUri);
      await client.db().dropDatabase().catch(() => undefined);
      await client.close();
    }
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when one client behind the proxy sends bad keys until it is refused, then another client's good key is still served", async () => {
    const list = '/v1/clinics/main-street/conversations';
    let refused: { status: number; retryAfter: string | undefined } | null = null;
    for (let i = 0; i < 12 && refused === null; i += 1) {
      const r = await get(proxy!.port, CLIENT_A, list, { Authorization: BAD });
      if (r.status === 429) {
        refused = r;
      } else {
        expect(r.status).to.equal(401);
      }
    }
    expect(refused?.retryAfter).to.match(/^\d+$/);
    expect((await get(proxy!.port, CLIENT_A, list, { Authorization: `Bearer ${good}` })).status).to.equal(429);
    expect((await get(proxy!.port, CLIENT_B, list, { Authorization: `Bearer ${good}` })).status).to.equal(200);
  });

  it('when a client reaches an instance directly and claims another address in X-Forwarded-For, then it is still counted as itself', async () => {
    const port = (service!.server.address() as AddressInfo).port;
    const list = '/v1/clinics/main-street/conversations';
    // CLIENT_A is refused by now; its own X-Forwarded-For is not believed from a peer that is not the proxy.
    expect((await get(port, CLIENT_A, list, { Authorization: `Bearer ${good}`, 'X-Forwarded-For': CLIENT_B })).status).to.equal(429);
    expect((await get(port, CLIENT_B, list, { Authorization: `Bearer ${good}` })).status).to.equal(200);
  });
});
