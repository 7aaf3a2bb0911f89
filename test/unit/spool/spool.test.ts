import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { InboundMessage } from '../../../src/domain.js';
import { createLogger } from '../../../src/logger.js';
import { encodeEntry, entryId } from '../../../src/spool/spool-entry.js';
import { Spool } from '../../../src/spool/spool.js';
import { createLogCapture, type LogCapture } from '../../support/log-capture.js';

/** The pid of a process that has exited: what a crashed writer leaves in its temporary file name. */
async function pidOfExitedProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

const sid = (): string => `SM${randomBytes(16).toString('hex')}`;

function message(overrides: Partial<InboundMessage> = {}): InboundMessage {
  return {
    messageSid: sid(),
    accountSid: `AC${'0'.repeat(32)}`,
    from: '+13125550134',
    to: '+13125550100',
    body: 'STOP',
    numMedia: 1,
    media: [{ url: 'https://api.twilio.com/media/ME1', contentType: 'image/jpeg' }],
    extra: { FromCity: 'CHICAGO' },
    ...overrides,
  };
}

describe('Spool', () => {
  let dir: string;
  let logs: LogCapture;
  const open = (): Promise<Spool> => Spool.open({ dir, logger: createLogger('info', logs) });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-spool-'));
    logs = createLogCapture();
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when a message is appended, then a new Spool on the same directory lists it unchanged (survives a restart)', async () => {
    const first = await open();
    const m = message();
    const receivedAt = new Date('2026-03-01T10:00:00.123Z');
    await first.append(m, receivedAt);
    expect(first.depth()).to.equal(1);

    const second = await open();
    expect(second.depth()).to.equal(1);
    const [entry] = await second.list();
    expect(entry?.message).to.deep.equal(m);
    expect(entry?.receivedAt.toISOString()).to.equal(receivedAt.toISOString());
    expect(await fs.readdir(dir)).to.have.members([`${m.messageSid}.json`, 'quarantine']);
  });

  it('when entries were received in some order, then list() returns them in that order', async () => {
    const spool = await open();
    const base = Date.parse('2026-03-01T10:00:00Z');
    const later = message();
    const earlier = message();
    const sameMsA = message();
    const sameMsB = message();
    await spool.append(later, new Date(base + 5000));
    await spool.append(earlier, new Date(base));
    await spool.append(sameMsA, new Date(base + 1000));
    await spool.append(sameMsB, new Date(base + 1000));
    const sids = (await (await open()).list()).map((e) => e.message.messageSid);
    expect(sids.slice(0, 1)).to.deep.equal([earlier.messageSid]);
    expect(sids.slice(1, 3)).to.have.members([sameMsA.messageSid, sameMsB.messageSid]);
    expect(sids[3]).to.equal(later.messageSid);
    const again = (await spool.list()).map((e) => e.message.messageSid);
    expect(again).to.deep.equal([earlier.messageSid, sameMsA.messageSid, sameMsB.messageSid, later.messageSid]);
  });

  it('when the same MessageSid is appended twice, sequentially or at once, then it is kept once with the first receivedAt', async () => {
    const spool = await open();
    const m = message();
    const first = new Date('2026-03-01T10:00:00Z');
    await spool.append(m, first);
    await spool.append(m, new Date('2026-03-01T10:00:09Z'));
    const n = message();
    await Promise.all([spool.append(n, first), spool.append(n, first), spool.append(n, first)]);
    expect(spool.depth()).to.equal(2);
    const entries = await (await open()).list();
    expect(entries).to.have.length(2);
    expect(entries.find((e) => e.message.messageSid === m.messageSid)?.receivedAt.toISOString()).to.equal(first.toISOString());
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('when an entry is removed, then it is gone for this and any later instance; removing it again is fine', async () => {
    const spool = await open();
    const keep = message();
    const drop = message();
    await spool.append(keep, new Date());
    const entry = await spool.append(drop, new Date());
    await spool.remove(entry.id);
    await spool.remove(entry.id);
    expect(spool.depth()).to.equal(1);
    expect((await (await open()).list()).map((e) => e.message.messageSid)).to.deep.equal([keep.messageSid]);
  });

  it('when the last file is torn (a crash cut it short), then opening quarantines it and keeps every other entry', async () => {
    const good = message();
    await (await open()).append(good, new Date());
    const torn = message();
    const bytes = encodeEntry({ id: torn.messageSid, message: torn, receivedAt: new Date(), spooledAt: new Date(), seq: 1 });
    await fs.writeFile(path.join(dir, `${torn.messageSid}.json`), bytes.slice(0, Math.floor(bytes.length / 2)));

    const spool = await open();
    expect(spool.depth()).to.equal(1);
    expect((await spool.list()).map((e) => e.message.messageSid)).to.deep.equal([good.messageSid]);
    const quarantined = await spool.quarantined();
    expect(quarantined).to.have.length(1);
    expect(quarantined[0]).to.match(new RegExp(`^${torn.messageSid}\\.json\\.`));
    const warning = logs.records().find((r) => r.msg === 'unreadable spool file quarantined');
    expect(warning).to.include({ file: `${torn.messageSid}.json`, reason: 'not complete JSON (torn or garbage)' });
  });

  it('when a file holds garbage or an altered entry, then it is quarantined, an unrelated file is left alone, and nothing throws', async () => {
    const good = message();
    await (await open()).append(good, new Date());
    await fs.writeFile(path.join(dir, `SM${'f'.repeat(32)}.json`), randomBytes(300));
    await fs.writeFile(path.join(dir, 'empty.json'), '');
    await fs.writeFile(path.join(dir, 'array.json'), '[1,2,3]');
    const altered = message({ body: 'CONFIRM' });
    const text = encodeEntry({ id: altered.messageSid, message: altered, receivedAt: new Date(), spooledAt: new Date(), seq: 1 });
    await fs.writeFile(path.join(dir, `${altered.messageSid}.json`), text.replace('CONFIRM', 'CANCEL!'));
    await fs.writeFile(path.join(dir, 'README.txt'), 'operator notes');
    const misnamed = message();
    await fs.writeFile(
      path.join(dir, `SM${'a'.repeat(32)}.json`),
      encodeEntry({ id: misnamed.messageSid, message: misnamed, receivedAt: new Date(), spooledAt: new Date(), seq: 1 }),
    );

    const spool = await open();
    expect((await spool.list()).map((e) => e.message.messageSid)).to.deep.equal([good.messageSid]);
    expect(await spool.quarantined()).to.have.length(5);
    expect(await fs.readdir(dir)).to.include('README.txt');
    const reasons = logs.records().filter((r) => r.msg === 'unreadable spool file quarantined').map((r) => r.reason);
    expect(reasons).to.include.members(['checksum mismatch', 'empty file', 'not a spool entry', 'file name does not match its content']);
    expect(logs.text()).not.to.contain('CONFIRM');
    expect(logs.text()).not.to.contain('5550134');
  });

  it('when a writer died mid-write, then a complete temporary file is promoted and a torn one quarantined', async () => {
    const deadPid = await pidOfExitedProcess();
    const complete = message();
    const torn = message();
    const encode = (m: InboundMessage): string => encodeEntry({ id: m.messageSid, message: m, receivedAt: new Date(), spooledAt: new Date(), seq: 1 });
    await fs.writeFile(path.join(dir, `.${complete.messageSid}.${deadPid}.abc123.tmp`), encode(complete));
    await fs.writeFile(path.join(dir, `.${torn.messageSid}.${deadPid}.def456.tmp`), encode(torn).slice(0, 40));

    const spool = await open();
    expect((await spool.list()).map((e) => e.message.messageSid)).to.deep.equal([complete.messageSid]);
    expect(await spool.quarantined()).to.have.length(1);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('when the writing process is killed (SIGKILL) while appending, then every acknowledged message is there and the spool opens cleanly', async function () {
    this.timeout(30_000);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('test', 'unit', 'spool', 'append-loop.fixture.ts')], {
      env: { ...process.env, SPOOL_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acknowledged: string[] = [];
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        acknowledged.push(...lines);
        if (acknowledged.length >= 40 && !child.killed) {
          child.kill('SIGKILL');
        }
      });
      child.once('exit', () => resolve());
      child.once('error', reject);
    });
    expect(acknowledged.length).to.be.at.least(40);

    const spool = await open();
    const listed = new Set((await spool.list()).map((e) => e.message.messageSid));
    for (const s of acknowledged) {
      expect(listed.has(s), `acknowledged ${s} is in the spool`).to.equal(true);
    }
    // Anything beyond the acknowledged ones was in the middle of being written: complete or quarantined, never half-read.
    expect(listed.size).to.be.within(acknowledged.length, acknowledged.length + 1);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('when a MessageSid is not a plain token, then its entry id is a hash that cannot leave the directory', () => {
    expect(entryId('SM0123')).to.equal('SM0123');
    const odd = entryId('../../etc/passwd');
    expect(odd).to.match(/^h[0-9a-f]{40}$/);
    expect(entryId('../../etc/passwd')).to.equal(odd);
  });

  it('when the spool directory cannot be created, then open() fails with SPOOL_ERROR', async () => {
    const file = path.join(dir, 'not-a-dir');
    await fs.writeFile(file, 'x');
    await expect(Spool.open({ dir: path.join(file, 'spool'), logger: createLogger('silent') })).to.be.rejected.and.eventually.have.property('code', 'SPOOL_ERROR');
  });
});
