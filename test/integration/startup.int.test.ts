import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startService, type RunningService } from '../../src/main.js';
import { AUTH_TOKEN, PUBLIC_BASE_URL, WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

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

  it('when MONGODB_URI points at a database that does not answer, then the service starts, /healthz is 200 and /readyz is 503 naming the store', async () => {
    const port = await closedPort();
    service = await startService({
      PORT: '0',
      HOST: '127.0.0.1',
      MONGODB_URI: `mongodb://127.0.0.1:${port}/clinic_sms_startup`,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      PUBLIC_BASE_URL,
      CLINICS_FILE: 'test/fixtures/clinics.yaml',
      NORTHSIDE_AUTH_TOKEN: 'x'.repeat(32),
      SPOOL_DIR: spoolDir,
      LOG_LEVEL: 'silent',
      WATCH_RULES: 'off',
    });
    expect(service.store.kind).to.equal('mongo');
    const server = service.server;
    expect((await request(server).get('/healthz')).status).to.equal(200);
    const ready = await request(server).get('/readyz');
    expect(ready.status).to.equal(503);
    expect(ready.body).to.deep.include({ ready: false, reasons: ['store unreachable'] });
    expect(ready.body.details).to.include({ store: 'unreachable' });
  });

  it('when the clinics file is invalid, then start-up fails with every finding and its position', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-clinics-'));
    const file = path.join(dir, 'clinics.yaml');
    await fs.writeFile(file, 'clinics:\n  - id: a\n    name: A\n    phoneNumbers: ["555"]\n    timezone: Nowhere/Land\n');
    try {
      await expect(startService({ CLINICS_FILE: file, SEED_FILE: 'none', SPOOL_DIR: spoolDir, LOG_LEVEL: 'silent', WATCH_RULES: 'off', PORT: '0' }))
        .to.be.rejectedWith('invalid clinics file')
        .and.eventually.have.property('findings')
        .that.has.length(2);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when MEMORY_STORE_MAX_MESSAGES is set, then the embedded store keeps that many finished messages and /metrics counts the ones dropped', async () => {
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
    for (let i = 0; i < 3; i++) {
      const params = inboundParams({ From: uniquePhone(), Body: 'HELP' });
      sids.push(params.MessageSid as string);
      const { body, signature } = signedRequest(params);
      const res = await request(service.server).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
      expect(res.status).to.equal(200);
    }
    expect(await service.store.getMessage(sids[0] as string)).to.equal(null);
    expect((await service.store.getMessage(sids[2] as string))?.status).to.equal('unknown-number');
    const metrics = await request(service.server).get('/metrics');
    expect(metrics.text).to.match(/^sms_embedded_store_dropped_total\{table="messages"\} 1$/m);
  });
});
