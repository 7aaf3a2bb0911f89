import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, hashApiKey } from '../../../src/auth/api-key.js';
import { DEMO_KEY, DEMO_KEY_SHA256, loadKeysFile, parseKeysFile, renderKeysFile } from '../../../src/auth/api-keys-file.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { startKeysReload } from '../../../src/auth/keys-reload.js';
import { createLogger } from '../../../src/logger.js';

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
      '5:13 keys[0].scopes',
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
      const handle = startKeysReload({ file, ring, logger: createLogger('silent'), production: false, watch: false });
      try {
        expect(await handle.reload()).to.equal(true);
        expect(ring.authenticate(first.key)?.id).to.equal('k1');
        await writeFile(file, 'keys: [oops');
        expect(await handle.reload()).to.equal(false);
        expect(ring.authenticate(first.key)?.id).to.equal('k1');
        await writeFile(file, renderKeysFile([{ ...first.entry, revoked: true }]));
        expect(await handle.reload()).to.equal(true);
        expect(ring.authenticate(first.key)).to.equal(null);
      } finally {
        handle.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when config/api-keys.yaml is read, then it holds the demo key for downtown', async function () {
    const { keys } = await loadKeysFile('config/api-keys.yaml');
    expect(new KeyRing(keys).authenticate(DEMO_KEY)?.clinicId).to.equal('downtown');
  });
});
