import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, hashApiKey } from '../../../src/auth/api-key.js';
import { DEMO_KEY, DEMO_KEY_SHA256, loadKeysFile, parseKeysFile, renderKeysFile } from '../../../src/auth/api-keys-file.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { keysFile } from '../../../src/auth/keys-reload.js';
import { createLogger } from '../../../src/logger.js';
import { runCli } from '../../../src/cli/index.js';
import { Registry } from 'prom-client';

const NOW = new Date('2026-11-30T12:00:00Z');

describe('staff API keys', function () {
  it('when a key is made, then only its SHA-256 goes in the entry and the ring accepts exactly that key', function () {
    const { key, entry } = createApiKey({ id: 'front-1', clinicId: 'downtown', name: 'front desk', scopes: ['conversations:read'] }, NOW);
    expect(key).to.match(/^csk\.front-1\.[A-Za-z0-9_-]{43}$/);
    expect(entry).to.deep.equal({ id: 'front-1', clinicId: 'downtown', name: 'front desk', scopes: ['conversations:read'], sha256: hashApiKey(key), createdAt: NOW, revoked: false });
    expect(JSON.stringify(entry)).not.to.include(key.split('.')[2]);
    const ring = new KeyRing([entry]);
    expect(ring.authenticate(key)).to.equal(entry);
    expect(ring.authenticate(`${key}x`)).to.equal(null);
    expect(ring.authenticate(key.replace('front-1', 'front-2'))).to.equal(null);
    expect(ring.authenticate('not a key')).to.equal(null);
    expect(ring.authenticate('')).to.equal(null);
  });

  it('when a key is revoked, then it is refused like a wrong one', function () {
    const { key, entry } = createApiKey({ id: 'front-2', clinicId: 'downtown', name: 'x', scopes: ['conversations:read'] }, NOW);
    expect(new KeyRing([{ ...entry, revoked: true }]).authenticate(key)).to.equal(null);
  });

  it('when the keys file is written and read back, then the entries are the same', function () {
    const made = [createApiKey({ id: 'a', clinicId: 'downtown', name: 'A', scopes: ['conversations:read', 'conversations:write'] }, NOW).entry];
    expect(parseKeysFile(renderKeysFile(made), 'k.yaml')).to.deep.equal(made);
  });

  it('when the keys file has mistakes, then every one is reported with file:line:col', function () {
    const text = [
      'keys:',
      '  - id: Bad_Id',
      '    clinicId: downtown',
      '    name: front',
      '    scopes: [conversations:read, conversations:delete]',
      '    sha256: abc',
      '    createdAt: yesterday',
      '    color: blue',
    ].join('\n');
    let caught: { code?: string; findings?: Array<{ line: number; col: number; message: string }> } = {};
    try {
      parseKeysFile(text, 'keys.yaml');
    } catch (err) {
      caught = err as typeof caught;
    }
    expect(caught.code).to.equal('CONFIG_INVALID');
    expect(caught.findings?.map((f) => `${f.line}:${f.col} ${f.message.split(':')[0]}`)).to.deep.equal([
      '2:9 keys[0].id',
      '5:34 keys[0].scopes[1]',
      '6:13 keys[0].sha256',
      '7:16 keys[0].createdAt',
      '8:5 keys[0]',
    ]);
  });

  it('when NODE_ENV=production and the file holds the README demo key, then it is refused', function () {
    expect(hashApiKey(DEMO_KEY)).to.equal(DEMO_KEY_SHA256);
    const text = `- {id: demo, clinicId: downtown, name: d, scopes: [conversations:read], sha256: ${DEMO_KEY_SHA256}, createdAt: "2026-11-30T00:00:00Z"}\n`;
    expect(parseKeysFile(text, 'k.yaml')).to.have.length(1);
    expect(() => parseKeysFile(text, 'k.yaml', { production: true })).to.throw(/invalid keys file/);
  });

  it('when the keys file changes, then a reload swaps the ring, and an invalid edit keeps the last good keys', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const file = join(dir, 'api-keys.yaml');
    try {
      expect(await loadKeysFile(file)).to.deep.equal({ keys: [], missing: true });
      const first = createApiKey({ id: 'k1', clinicId: 'downtown', name: 'A', scopes: ['conversations:read'] }, NOW);
      await writeFile(file, renderKeysFile([first.entry]));
      const ring = new KeyRing();
      const handle = keysFile({ file, ring, logger: createLogger('silent'), production: false });
      expect(await handle.reload('test')).to.equal(true);
      expect(ring.authenticate(first.key)?.id).to.equal('k1');
      await writeFile(file, 'keys: [oops');
      expect(await handle.reload('test')).to.equal(false);
      expect(ring.authenticate(first.key)?.id).to.equal('k1');
      await writeFile(file, renderKeysFile([{ ...first.entry, revoked: true }]));
      expect(await handle.reload('test')).to.equal(true);
      expect(ring.authenticate(first.key)).to.equal(null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when a keys file that cannot be parsed revokes a key, then that revocation takes effect, the other last good keys stay, and the problem shows on readiness and in a metric', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    const file = join(dir, 'api-keys.yaml');
    const registry = new Registry();
    try {
      const a = createApiKey({ id: 'k-a', clinicId: 'downtown', name: 'A', scopes: ['conversations:read'] }, NOW);
      const b = createApiKey({ id: 'k-b', clinicId: 'downtown', name: 'B', scopes: ['conversations:read'] }, NOW);
      await writeFile(file, renderKeysFile([a.entry, b.entry]));
      const ring = new KeyRing();
      const handle = keysFile({ file, ring, logger: createLogger('silent'), production: false, registry });
      expect(await handle.reload('test')).to.equal(true);
      expect(handle.status()).to.deep.equal({ details: { keysFile: 'ok' }, degraded: [] });
      // The revocation is written, but a stray quote breaks the file.
      const broken = renderKeysFile([a.entry, { ...b.entry, revoked: true }]).replace('name: A', 'name: "A');
      await writeFile(file, broken);
      expect(await handle.reload('test')).to.equal(false);
      expect(ring.authenticate(a.key)?.id).to.equal('k-a');
      expect(ring.authenticate(b.key)).to.equal(null);
      const status = handle.status();
      expect(status.degraded).to.have.length(1);
      expect(status.degraded[0]).to.match(/^keys file .*api-keys\.yaml:\d+:\d+: .+; the last good keys stay live, with the revocations the file holds applied \(k-b\)$/);
      const metrics = await registry.metrics();
      expect(metrics).to.match(/sms_keys_file_valid 0/);
      expect(metrics).to.match(/sms_keys_reload_failures_total 1/);
      // Fixed, with the revocation: healthy again, and it stays revoked.
      await writeFile(file, renderKeysFile([a.entry, { ...b.entry, revoked: true }]));
      expect(await handle.reload('test')).to.equal(true);
      expect(handle.status().degraded).to.deep.equal([]);
      expect(ring.authenticate(b.key)).to.equal(null);
      expect(await registry.metrics()).to.match(/sms_keys_file_valid 1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when a key has expiresAt, then it is refused from that time on, its refusal names it, and keys list shows the expiry', async function () {
    const { key, entry } = createApiKey({ id: 'k-temp', clinicId: 'downtown', name: 'temp', scopes: ['conversations:read'] }, NOW);
    const text = renderKeysFile([{ ...entry, expiresAt: new Date('2026-12-31T00:00:00Z') }]);
    expect(text).to.include("expiresAt: 2026-12-31T00:00:00.000Z");
    const keys = parseKeysFile(text, 'k.yaml');
    expect(keys[0]?.expiresAt).to.deep.equal(new Date('2026-12-31T00:00:00Z'));
    const ring = new KeyRing(keys);
    expect(ring.authenticate(key, new Date('2026-12-30T23:59:59Z'))?.id).to.equal('k-temp');
    expect(ring.authenticate(key, new Date('2026-12-31T00:00:00Z'))).to.equal(null);
    expect(ring.refusedKeyId(key, new Date('2026-12-31T00:00:00Z'))).to.equal('k-temp');
    expect(() => parseKeysFile(text.replace('2026-12-31T00:00:00.000Z', 'soon'), 'k.yaml')).to.throw(/invalid keys file/);
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));
    try {
      await writeFile(join(dir, 'api-keys.yaml'), text);
      const out: string[] = [];
      const code = await runCli(['keys', 'list'], { env: { KEYS_FILE: join(dir, 'api-keys.yaml') }, cwd: process.cwd(), out: (l) => out.push(l), err: () => undefined });
      expect(code).to.equal(0);
      expect(out[0]).to.match(/\bexpiresAt\b/);
      expect(out.find((l) => l.startsWith('k-temp'))).to.include('2026-12-31T00:00:00.000Z');
      const json: string[] = [];
      await runCli(['keys', 'list', '--json'], { env: { KEYS_FILE: join(dir, 'api-keys.yaml') }, cwd: process.cwd(), out: (l) => json.push(l), err: () => undefined });
      expect(JSON.parse(json[0]!)).to.include({ id: 'k-temp', expiresAt: '2026-12-31T00:00:00.000Z' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when config/api-keys.yaml is read, then it holds the demo key for downtown', async function () {
    const { keys } = await loadKeysFile('config/api-keys.yaml');
    expect(new KeyRing(keys).authenticate(DEMO_KEY)?.clinicId).to.equal('downtown');
  });
});
