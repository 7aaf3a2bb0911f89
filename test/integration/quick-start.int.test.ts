// Reads the live rules/ on purpose: it checks the README quick start on the shipped files. (Allowed in test/support/fixture-rules.ts.)
import { spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runTry, serverUrl } from '../../scripts/try.js';
import { loadClinicsFile } from '../../src/config/clinics-file.js';
import { startService, type RunningService } from '../../src/main.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { loadSeed } from '../../src/import/seed.js';

/** The `npm run try -- ...` lines of the README's quick start, as argument lists (double quotes only). */
function readmeTryCommands(): string[][] {
  const readme = readFileSync('README.md', 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Pointing Twilio'));
  return [...quickStart.matchAll(/^npm run try -- (.*?)(?:\s+#.*)?$/gm)].map((m) => [...(m[1] ?? '').matchAll(/"([^"]*)"|(\S+)/g)].map((t) => t[1] ?? t[2] ?? ''));
}

function capture(env: Record<string, string | undefined>): { env: Record<string, string | undefined>; out(t: string): void; err(t: string): void; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

describe('quick start (README)', () => {
  let service: RunningService | null = null;
  let spoolDir: string;
  let port: number;

  before(async () => {
    spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-quick-start-'));
    // What `npm start` does on a fresh clone: the shipped clinics, rules and demo data, the dev token.
    service = await startService({ PORT: '0', HOST: '127.0.0.1', SPOOL_DIR: spoolDir, LOG_LEVEL: 'silent', WATCH_RULES: 'off' });
    port = (service.server.address() as AddressInfo).port;
  });

  after(async () => {
    await service?.stop();
    await fs.rm(spoolDir, { recursive: true, force: true });
  });

  it('when every try example of the README runs against npm start, then each gets a 200 TwiML answer, English for Ben and Spanish for Ana', async () => {
    const commands = readmeTryCommands();
    expect(commands.length).to.be.greaterThan(4);
    const replies: string[] = [];
    for (const args of commands) {
      const io = capture({ PORT: String(port), HOST: '0.0.0.0' });
      expect(await runTry(args, io), `${args.join(' ')}: ${io.stderr.join('\n')}`).to.equal(0);
      expect(io.stdout[0]).to.match(/^200 text\/xml/);
      replies.push(io.stdout.join('\n'));
    }
    expect(commands[0]).to.deep.equal(['--from', '+13125550142', '--body', 'HELP']);
    expect(replies[0]).to.include('Reply CONFIRM, CANCEL APPT or RESCHEDULE');
    const confirm = commands.findIndex((a) => a.includes('CONFIRM'));
    expect(commands[confirm]).to.include('+13125550142');
    expect(replies[confirm]).to.match(/<Message>Thank you\. Ben's appointment on .* is confirmed\.<\/Message>/);
    const ana = commands.findIndex((a) => a.includes('+13125550134') && a.includes('CONFIRM'));
    expect(replies[ana]).to.include('está confirmada');
  });

  it('when --url is given, then try sends there whatever PORT says', async () => {
    const io = capture({ PORT: '1' });
    expect(await runTry(['--url', `http://127.0.0.1:${port}/`, '--from', '+13125559871', '--body', 'hello'], io)).to.equal(0);
    expect(io.stdout.join('\n')).to.include("We don't recognize this phone number.");
  });

  it('when no server listens there, then try says where it tried and exits 1', async () => {
    const io = capture({ PORT: '1', HOST: '127.0.0.1' });
    expect(await runTry([], io)).to.equal(1);
    expect(io.stderr[0]).to.match(/^try: cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});

describe('npm run try', () => {
  it('when PORT and HOST are set or not, then try aims at the address the server listens on (a wildcard HOST as 127.0.0.1)', () => {
    expect(serverUrl({})).to.equal('http://127.0.0.1:3000');
    expect(serverUrl({ PORT: '4100', HOST: '0.0.0.0' })).to.equal('http://127.0.0.1:4100');
    expect(serverUrl({ PORT: '4100', HOST: '::' })).to.equal('http://127.0.0.1:4100');
    expect(serverUrl({ HOST: 'sms.local' })).to.equal('http://sms.local:3000');
    expect(serverUrl({ HOST: '::1' })).to.equal('http://[::1]:3000');
    expect(() => serverUrl({ PORT: 'abc' })).to.throw('PORT must be a whole number');
  });

  it('when run with --help, then it prints the usage with --url and exits 0; with an unknown option, it exits 2', function () {
    this.timeout(30_000);
    const help = spawnSync(process.execPath, ['--import=tsx', 'scripts/try.ts', '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.match(/^usage: npm run try --/).and.include('--url');
    const bad = spawnSync(process.execPath, ['--import=tsx', 'scripts/try.ts', '--nope'], { encoding: 'utf8' });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.include("Unknown option '--nope'").and.include('usage: npm run try');
  });
});

describe('demo data (config/demo-data.yaml)', () => {
  it('when the demo data is seeded on a far-future clock, then every demo appointment is still upcoming, Ben\'s the next day at 10:30 in Chicago', async () => {
    const clinics = await loadClinicsFile('config/clinics.yaml');
    const now = new Date('2093-07-14T20:00:00Z'); // 15:00 in Chicago (CDT)
    const store = new MemoryStore();
    await loadSeed(store, 'config/demo-data.yaml', clinics, now);
    const ben = await store.findPatientsByPhone('downtown', '+13125550142');
    const next = await store.findNextAppointment('downtown', ben.map((p) => p.id), now);
    expect(next?.startsAt.toISOString()).to.equal('2093-07-15T15:30:00.000Z');
    for (const id of ['a-5001', 'a-5002', 'a-5003', 'a-5004', 'a-6001']) {
      expect((await store.getAppointment(id))?.startsAt.getTime(), id).to.be.greaterThan(now.getTime());
    }
  });
});

describe('a photo tried on npm start (README quick start)', () => {
  let service: RunningService | null = null;
  let dir: string;
  let port: number;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-try-media-'));
    // npm start on a fresh clone: the shipped clinics (no accountSid), the dev token, no TWILIO_ACCOUNT_SID.
    service = await startService({ PORT: '0', HOST: '127.0.0.1', SPOOL_DIR: path.join(dir, 'spool'), MEDIA_DIR: path.join(dir, 'media'), LOG_LEVEL: 'silent', WATCH_RULES: 'off' }, { media: { pollMs: 50 } });
    port = (service.server.address() as AddressInfo).port;
  });

  after(async () => {
    await service?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when try sends a photo file, then the server fetches it from try as from Twilio, checks its type, keeps it, and the thread shows it stored', async function () {
    this.timeout(40_000);
    const io = capture({ PORT: String(port), HOST: '127.0.0.1' });
    const code = await runTry(['--from', '+13125550142', '--body', 'Is this rash normal?', '--media', 'docs/examples/photo.jpg', '--wait', '20'], io);
    expect(code, io.stderr.join('\n')).to.equal(0);
    expect(io.stdout.at(-1)).to.match(/^media photo\.jpg: fetched by the server \(image\/jpeg, \d+ bytes\)$/);
    const key = { Authorization: 'Bearer csk.demo-downtown.local-demo-key-never-in-production' };
    const base = `http://127.0.0.1:${port}/v1/clinics/downtown/conversations`;
    const list = (await (await fetch(`${base}?status=open`, { headers: key })).json()) as { conversations: { id: string; phone: string }[] };
    const ben = list.conversations.find((c) => c.phone === '+13125550142');
    expect(ben, JSON.stringify(list)).to.not.equal(undefined);
    let media: { state: string; contentType?: string; href?: string }[] = [];
    for (let i = 0; i < 100 && media[0]?.state !== 'stored'; i += 1) {
      const thread = (await (await fetch(`${base}/${ben!.id}`, { headers: key })).json()) as { entries: { type: string; media?: typeof media }[] };
      media = thread.entries.filter((e) => e.type === 'inbound').flatMap((e) => e.media ?? []);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(media).to.have.length(1);
    expect(media[0]).to.include({ state: 'stored' });
    const file = await fetch(`http://127.0.0.1:${port}${media[0]!.href ?? ''}`, { headers: key });
    expect(file.status).to.equal(200);
    expect(file.headers.get('content-type')).to.equal('image/jpeg');
    expect(Buffer.from(await file.arrayBuffer()).equals(await fs.readFile('docs/examples/photo.jpg'))).to.equal(true);
  });
});
