import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../../../src/auth/api-key.js';
import { loadKeysFile } from '../../../src/auth/api-keys-file.js';
import { KeyRing } from '../../../src/auth/key-ring.js';
import { runCli } from '../../../src/cli/index.js';
import type { CliIO } from '../../../src/cli/io.js';

describe('clinic-sms keys', function () {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-cli-'));
    file = join(dir, 'api-keys.yaml');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function io(): CliIO & { stdout: string[]; stderr: string[] } {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { env: { KEYS_FILE: file, CLINICS_FILE: 'test/fixtures/clinics.yaml' }, cwd: process.cwd(), stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
  }

  async function run(...args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
    const captured = io();
    const code = await runCli(['keys', ...args], captured);
    return { code, stdout: captured.stdout, stderr: captured.stderr };
  }

  const create = (...extra: string[]) => run('create', '--clinic', 'downtown', '--name', 'front desk', '--scopes', 'conversations:read,conversations:write', ...extra);

  it('when a key is created, then stdout holds only the key, the file holds only its SHA-256, and the ring accepts it for that clinic and those scopes', async () => {
    const res = await create();
    expect(res.code).to.equal(0);
    expect(res.stdout).to.have.length(1);
    const key = res.stdout[0] as string;
    expect(key).to.match(/^csk\.downtown-front-desk-[0-9a-f]{6}\.[A-Za-z0-9_-]{43}$/);
    expect(res.stderr.join('\n')).to.include('shown this once').and.not.include(key);
    const text = await readFile(file, 'utf8');
    expect(text).not.to.include(key.split('.')[2]);
    expect(text).to.include(hashApiKey(key));
    const { keys } = await loadKeysFile(file);
    expect(new KeyRing(keys).authenticate(key)).to.include({ clinicId: 'downtown', name: 'front desk', revoked: false });
    expect(keys[0]?.scopes).to.deep.equal(['conversations:read', 'conversations:write']);
    // A new file holds digests of keys only, still: readable by its owner alone.
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
  });

  it('when keys are added to and revoked in a file with comments, then the comments, order and other entries stay as they were', async () => {
    const original = await readFile('config/api-keys.yaml', 'utf8');
    await writeFile(file, original);
    const made = await create('--id', 'front-2');
    expect(made.code).to.equal(0);
    const revoked = await run('revoke', 'demo-downtown');
    expect(revoked.code).to.equal(0);
    expect(revoked.stdout[0]).to.match(/^revoked key demo-downtown/);
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    // Every original line but `revoked: false` of the demo key is still there, in order, at its place.
    const originalLines = original.trimEnd().split('\n');
    originalLines.forEach((line, i) => expect(lines[i]).to.equal(line === '    revoked: false' ? '    revoked: true' : line));
    expect(lines[originalLines.length]).to.match(/^ {4}revokedAt: "\d{4}-\d{2}-\d{2}T[\d:.]+Z"$/);
    expect(lines.slice(originalLines.length + 1, originalLines.length + 5)).to.deep.equal(['  - id: front-2', '    clinicId: downtown', '    name: front desk', '    scopes: [conversations:read, conversations:write]']);
    const { keys } = await loadKeysFile(file);
    expect(keys.map((k) => [k.id, k.revoked])).to.deep.equal([
      ['demo-downtown', true],
      ['front-2', false],
    ]);
    expect(keys[0]?.revokedAt).to.be.instanceOf(Date);
    expect((await run('revoke', 'demo-downtown')).stdout).to.deep.equal(['key demo-downtown was already revoked']);
  });

  it('when keys are listed, then id, clinic, name, scopes, createdAt, revoked and expiresAt show, and never a key or its digest', async () => {
    const key = (await create()).stdout[0] as string;
    const id = key.split('.')[1] as string;
    await run('create', '--clinic', 'northside', '--name', 'nurse line', '--scopes', 'conversations:read');
    await run('revoke', id);
    const table = await run('list');
    expect(table.code).to.equal(0);
    expect(table.stdout[0]).to.match(/^id\s+clinic\s+name\s+scopes\s+createdAt\s+revoked\s+expiresAt$/);
    expect(table.stdout).to.have.length(3);
    expect(table.stdout[1]).to.match(new RegExp(`^${id}\\s+downtown\\s+front desk\\s+conversations:read,conversations:write\\s+\\S+Z\\s+yes`));
    const json = await run('list', '--json', '--clinic', 'northside');
    expect(json.stdout).to.have.length(1);
    const entry = JSON.parse(json.stdout[0] as string) as Record<string, unknown>;
    expect(Object.keys(entry)).to.deep.equal(['id', 'clinicId', 'name', 'scopes', 'createdAt', 'revoked']);
    const everything = [...table.stdout, ...table.stderr, ...json.stdout].join('\n');
    expect(everything).not.to.include(key.split('.')[2]);
    expect(everything).not.to.include(hashApiKey(key));
  });

  it('when arguments are wrong, then the command exits 2 with the usage, and nothing is written', async () => {
    for (const args of [
      ['create', '--clinic', 'downtown', '--name', 'x'],
      ['create', '--clinic', 'downtown', '--name', 'x', '--scopes', 'conversations:delete'],
      ['create', '--clinic', 'downtown', '--name', 'x', '--scopes', 'conversations:read', '--id', 'Bad_Id'],
      ['create', '--clinic', 'downtown', '--name', 'x', '--scopes', 'conversations:read', '--colour', 'blue'],
      ['revoke'],
      ['revoke', 'a', 'b'],
      ['list', 'extra'],
    ]) {
      const res = await run(...args);
      expect(res.code, args.join(' ')).to.equal(2);
      expect(res.stderr[0], args.join(' ')).to.match(/^error: /);
      expect(res.stdout).to.deep.equal([]);
    }
    await expect(stat(file)).to.be.rejectedWith(/ENOENT/);
  });

  it('when the clinic is not in the clinics file, or the id is taken, or the key to revoke does not exist, then exit 1 and the file is unchanged', async () => {
    const key = (await create('--id', 'taken')).stdout[0] as string;
    const before = await readFile(file, 'utf8');
    const noClinic = await run('create', '--clinic', 'nowhere', '--name', 'x', '--scopes', 'conversations:read');
    expect(noClinic.code).to.equal(1);
    expect(noClinic.stderr[0]).to.match(/^error: --clinic: no clinic "nowhere" in .*clinics\.yaml$/);
    const taken = await create('--id', 'taken');
    expect(taken.code).to.equal(1);
    expect(taken.stdout).to.deep.equal([]);
    const missing = await run('revoke', 'nope');
    expect(missing.code).to.equal(1);
    expect(missing.stderr[0]).to.match(/^error: no key "nope"/);
    expect(await readFile(file, 'utf8')).to.equal(before);
    expect(key).to.match(/^csk\.taken\./);
  });

  it('when the keys file is invalid, then create and revoke refuse to edit it and name file:line:col', async () => {
    await writeFile(file, 'keys:\n  - id: a\n    colour: blue\n');
    for (const args of [['create', '--clinic', 'downtown', '--name', 'x', '--scopes', 'conversations:read'], ['revoke', 'a']]) {
      const res = await run(...args);
      expect(res.code).to.equal(1);
      expect(res.stderr.join('\n')).to.include(`${file}:3:5: keys[0]: unknown field "colour"`);
    }
    expect(await readFile(file, 'utf8')).to.equal('keys:\n  - id: a\n    colour: blue\n');
  });

  it('when another keys command holds the lock, then the edit is refused and the file is left alone', async () => {
    await writeFile(`${file}.lock`, '');
    const res = await create();
    expect(res.code).to.equal(1);
    expect(res.stderr[0]).to.include('another keys command is running');
    await expect(stat(file)).to.be.rejectedWith(/ENOENT/);
  });

  it('when a subcommand is unknown or missing, then exit 2 with the keys usage; --help on each exits 0', async () => {
    const unknown = await run('rotate');
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr[0]).to.equal('error: unknown subcommand "keys rotate"');
    expect(unknown.stderr[1]).to.match(/^usage: clinic-sms keys create/);
    expect((await run()).code).to.equal(2);
    for (const sub of ['create', 'list', 'revoke']) {
      const help = await run(sub, '--help');
      expect(help.code).to.equal(0);
      expect(help.stdout[0]).to.match(new RegExp(`^usage: clinic-sms keys ${sub}`));
    }
  });
});
