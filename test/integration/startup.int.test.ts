import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startService, type RunningService } from '../../src/main.js';
import { AUTH_TOKEN, PUBLIC_BASE_URL, WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { fixtureServiceEnv } from '../support/service-env.js';

/** A loopback port that nothing listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('start-up', () => {
  let service: RunningService | null = null;
  let spoolDir: string;

  beforeEach(async () => {
    spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-startup-'));
  });

  afterEach(async () => {
    await service?.stop();
    service = null;
    await fs.rm(spoolDir, { recursive: true, force: true });
  });

  it('when MONGODB_URI points at a database that does not answer, then the service starts, /healthz is 200 and /readyz is 200 degraded naming the store, because the spool keeps the messages', async () => {
    const port = await closedPort();
    service = await startService(fixtureServiceEnv({ MONGODB_URI: `mongodb://127.0.0.1:${port}/clinic_sms_startup`, SPOOL_DIR: spoolDir }));
    expect(service.store.kind).to.equal('mongo');
    const server = service.server;
    expect((await request(server).get('/healthz')).status).to.equal(200);
    const ready = await request(server).get('/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.include({ status: 'degraded', ready: true, reasons: [], degraded: ['store unreachable: messages go to the spool'] });
    expect(ready.body.details).to.deep.include({ store: 'unreachable', spool: { depth: 0, writable: true } });
  });

  it('when the database does not answer and the spool directory is gone, then /readyz answers 503: the instance cannot keep a message', async () => {
    const port = await closedPort();
    service = await startService(fixtureServiceEnv({ MONGODB_URI: `mongodb://127.0.0.1:${port}/clinic_sms_startup`, SPOOL_DIR: spoolDir }));
    // A volume unmounted under a running instance (chmod would not stop root).
    await fs.rm(spoolDir, { recursive: true, force: true });
    const ready = await request(service.server).get('/readyz');
    expect(ready.status).to.equal(503);
    expect(ready.body).to.deep.include({ status: 'unavailable', ready: false, reasons: ['store unreachable and spool not writable'] });
    expect(ready.body.details.spool).to.deep.equal({ depth: 0, writable: false });
  });

  it('when the clinics file cannot be used at all, then start-up fails with every finding and its position, rules/default.yaml included', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-clinics-'));
    const file = path.join(dir, 'clinics.yaml');
    await fs.writeFile(file, 'clinics:\n  - id: a\n    name: [A\n');
    await fs.mkdir(path.join(dir, 'rules'));
    await fs.writeFile(path.join(dir, 'rules', 'default.yaml'), 'version: 1\nrules: 3\n');
    try {
      const err = (await startService({ CLINICS_FILE: file, RULES_DIR: path.join(dir, 'rules'), SEED_FILE: 'none', SPOOL_DIR: spoolDir, LOG_LEVEL: 'silent', WATCH_RULES: 'off', PORT: '0' }).then(
        () => {
          throw new Error('started although the clinics file is unusable');
        },
        (e: unknown) => e,
      )) as { message: string; findings: Array<{ file: string; line: number }> };
      expect(err.message).to.match(/^invalid configuration \(\d+ problems\)$/);
      expect(err.findings.map((f) => path.relative(dir, f.file))).to.include.members(['clinics.yaml', path.join('rules', 'default.yaml')]);
      expect(err.findings.every((f) => f.line > 0)).to.equal(true);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when NODE_ENV=production, nothing is set and every file has an error, then the first start prints every problem once, each file one with its position, and exits 1', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-problems-'));
    try {
      await fs.cp('test/fixtures/rules/good', path.join(dir, 'rules'), { recursive: true });
      const defaults = path.join(dir, 'rules', 'default.yaml');
      await fs.writeFile(defaults, (await fs.readFile(defaults, 'utf8')).replace('type: opt-out', 'type: opt-out-please'));
      await fs.writeFile(path.join(dir, 'rules', 'clinics', 'downtown.yaml'), 'version: 1\ntemplates:\n  help: "Hi {{patient.nickname}}"\n');
      const clinics = path.join(dir, 'clinics.yaml');
      await fs.writeFile(clinics, (await fs.readFile('test/fixtures/clinics.yaml', 'utf8')).replace('timezone: America/Chicago\n    authTokenEnv', 'timezone: Nowhere/Land\n    authTokenEnv'));
      const keys = path.join(dir, 'api-keys.yaml');
      await fs.writeFile(keys, 'keys:\n  - id: k1\n');
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', CLINICS_FILE: clinics, RULES_DIR: path.join(dir, 'rules'), KEYS_FILE: keys, SPOOL_DIR: spoolDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      const lines = stderr.trim().split('\n');

      expect(code).to.equal(1);
      expect(lines[0]).to.match(/^clinic-sms: invalid configuration \(\d+ problems\)$/);
      expect(new Set(lines).size, stderr).to.equal(lines.length);
      const once = (pattern: RegExp): void => {
        expect(lines.filter((l) => pattern.test(l)), `${String(pattern)} in\n${stderr}`).to.have.length(1);
      };
      once(/^environment: NODE_ENV=production needs MONGODB_URI/);
      once(/^environment: TWILIO_AUTH_TOKEN is not set: no auth token to check the signatures of clinic downtown$/);
      once(new RegExp(`^${clinics.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:13:15: clinics\\[1\\]\\.timezone`));
      once(/default\.yaml:\d+:\d+: .*unknown action "opt-out-please"/);
      once(/clinics\/downtown\.yaml:3:13: templates\.help: unknown merge field/);
      once(/api-keys\.yaml:2:5: keys\[0\]\.clinicId: required/);
      expect(lines.slice(1).every((l) => /^(environment|\/)/.test(l)), stderr).to.equal(true);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when MEMORY_STORE_MAX_MESSAGES is set, then the embedded store keeps that many finished messages, the conversation of a dropped message\'s sender goes with it, and /metrics counts the ones dropped', async () => {
    service = await startService({
      PORT: '0',
      HOST: '127.0.0.1',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      PUBLIC_BASE_URL,
      CLINICS_FILE: 'test/fixtures/clinics.yaml',
      NORTHSIDE_AUTH_TOKEN: 'x'.repeat(32),
      SEED_FILE: 'none',
      SPOOL_DIR: spoolDir,
      LOG_LEVEL: 'silent',
      WATCH_RULES: 'off',
      MEMORY_STORE_MAX_MESSAGES: '2',
    });
    const sids: string[] = [];
    const phones = [uniquePhone(), uniquePhone(), uniquePhone()];
    const firstPhone = phones[0] as string;
    for (let i = 0; i < 3; i++) {
      const params = inboundParams({ From: phones[i] as string, Body: 'Can someone call me back?' });
      sids.push(params.MessageSid as string);
      const { body, signature } = signedRequest(params);
      const res = await request(service.server).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
      expect(res.status).to.equal(200);
    }
    expect(await service.store.getMessage(sids[0] as string)).to.equal(null);
    expect((await service.store.getMessage(sids[2] as string))?.status).to.equal('unknown-number');
    // Each unknown number opened a conversation; the first one's went with its only message.
    const conversations = service.staffStores.conversations;
    const clinicOf = async (sid: string): Promise<string> => (await service!.store.getMessage(sid))?.clinicId ?? '';
    const phoneOf = async (sid: string): Promise<string> => (await service!.store.getMessage(sid))?.message.from ?? '';
    expect(await conversations.conversationIdFor(await clinicOf(sids[2] as string), await phoneOf(sids[2] as string))).to.match(/^cv_/);
    expect(await conversations.conversationIdFor(await clinicOf(sids[2] as string), firstPhone)).to.equal(null);
    const metrics = await request(service.server).get('/metrics');
    expect(metrics.text).to.match(/^sms_embedded_store_dropped_total\{table="messages"\} 1$/m);
  });
});
