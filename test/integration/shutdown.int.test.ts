import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startService } from '../../src/main.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { AppError } from '../../src/errors.js';
import type { MessageRecord } from '../../src/domain.js';
import { Spool } from '../../src/spool/spool.js';
import { createLogger } from '../../src/logger.js';
import { dropTestDb, freshDbName, getTestMongo, uriWithDb } from '../support/mongo.js';
import { WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { backendFor } from '../support/backends.js';

/** The embedded store behind a slow network: every patient lookup takes `latencyMs`. */
class SlowStore extends MemoryStore {
  entered = 0;
  down = false;
  constructor(private readonly latencyMs: number) {
    super();
  }
  override async touchSender(...args: Parameters<MemoryStore['touchSender']>): ReturnType<MemoryStore['touchSender']> {
    this.entered += 1;
    await new Promise((r) => setTimeout(r, this.latencyMs));
    return super.touchSender(...args);
  }
  override async claimMessage(record: MessageRecord): ReturnType<MemoryStore['claimMessage']> {
    if (this.down) {
      await new Promise((r) => setTimeout(r, this.latencyMs));
      throw new AppError('STORE_UNAVAILABLE', 'down');
    }
    return super.claimMessage(record);
  }
  override async ping(): Promise<void> {
    if (this.down) {
      throw new AppError('STORE_UNAVAILABLE', 'down');
    }
  }
}

interface Reply {
  status: number | null;
  text: string;
  error?: string;
}

/** One webhook POST on a fresh connection, as Twilio sends them. */
function send(port: number, params: Record<string, string>): Promise<Reply> {
  const { body, signature } = signedRequest(params);
  const requestId = params.MessageSid as string;
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: WEBHOOK_PATH, method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'x-request-id': requestId } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? null, text }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: null, text: '', error: err.code ?? err.message }));
    req.end(body);
  });
}

const waitFor = async (check: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('graceful shutdown', () => {
  let spoolDir: string;
  const env = (extra: Record<string, string> = {}): Record<string, string> => fixtureServiceEnv({ SPOOL_DIR: spoolDir, ...extra });

  beforeEach(async () => {
    spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-shutdown-'));
  });

  afterEach(async () => {
    await fs.rm(spoolDir, { recursive: true, force: true });
  });

  it('when stop() is called with requests in flight, then each accepted request is answered and recorded, and the store is closed', async () => {
    const store = new SlowStore(300);
    const service = await startService(env(), { backend: backendFor(store) });
    const port = (service.server.address() as AddressInfo).port;
    const messages = Array.from({ length: 30 }, (_, i) => inboundParams({ From: uniquePhone(), Body: `question ${i}` }));

    const replies = messages.map((m) => send(port, m));
    await waitFor(() => store.entered === messages.length);
    const t0 = Date.now();
    const report = await service.stop();
    const drainMs = Date.now() - t0;
    const after = await send(port, inboundParams({ From: uniquePhone() }));

    const results = await Promise.all(replies);
    console.log(`      drain: ${messages.length} requests in flight, stop() took ${drainMs} ms (${JSON.stringify(report)})`);
    expect(results.map((r) => r.status)).to.deep.equal(Array(messages.length).fill(200));
    expect(results.every((r) => r.text.includes('<Message>'))).to.equal(true);
    for (const m of messages) {
      expect((await store.getMessage(m.MessageSid as string))?.status).to.equal('unknown-number');
    }
    expect(report).to.include({ drained: true, abandoned: 0, spoolLeft: 0 });
    expect(drainMs).to.be.below(2000);
    expect(store.isClosed).to.equal(true);
    expect(service.server.listening).to.equal(false);
    expect(after.error).to.equal('ECONNREFUSED');
  });

  it('when a request outlasts SHUTDOWN_GRACE_MS, then shutdown stops waiting for it at the bound', async () => {
    const store = new SlowStore(3000);
    const service = await startService(env({ SHUTDOWN_GRACE_MS: '300' }), { backend: backendFor(store) });
    const port = (service.server.address() as AddressInfo).port;
    const reply = send(port, inboundParams({ From: uniquePhone() }));
    await waitFor(() => store.entered === 1);

    const t0 = Date.now();
    const report = await service.stop();

    expect(Date.now() - t0).to.be.within(250, 1500);
    expect(report).to.include({ drained: false, abandoned: 1 });
    expect((await reply).status).to.equal(null);
  });

  it('when the store is down during shutdown, then in-flight messages are spooled, answered, and kept on disk for the next start, which replays them', async () => {
    const store = new SlowStore(200);
    store.down = true;
    const service = await startService(env(), { backend: backendFor(store) });
    const port = (service.server.address() as AddressInfo).port;
    const phone = uniquePhone();
    const messages = [inboundParams({ From: phone, Body: 'STOP' }), inboundParams({ From: uniquePhone(), Body: 'hello' })];
    const replies = messages.map((m) => send(port, m));
    await new Promise((r) => setTimeout(r, 50));

    const report = await service.stop();

    const results = await Promise.all(replies);
    expect(results.every((r) => r.status === 200)).to.equal(true);
    // The spooled STOP gets its normal confirmation (the spool makes it certain); the other message the system-error text.
    expect(results[0]?.text).to.match(/<Message>[^<]+<\/Message>/);
    expect(results[0]?.text).to.not.include('technical difficulties');
    expect(results[1]?.text).to.include('technical difficulties');
    expect(report).to.include({ drained: true, spoolLeft: 2, flushed: 0 });
    const onDisk = await Spool.open({ dir: spoolDir, logger: createLogger('silent') });
    expect(onDisk.depth()).to.equal(2);

    const fresh = new MemoryStore();
    const next = await startService(env(), { backend: backendFor(fresh) });
    try {
      await waitFor(() => next.spool.depth() === 0);
      for (const m of messages) {
        expect((await fresh.getMessage(m.MessageSid as string))?.status).to.equal('replayed');
      }
      expect((await fresh.getOptOut('downtown', phone))?.optedOut).to.equal(true);
    } finally {
      await next.stop();
    }
  });

  it('when the real process gets SIGTERM under load, then no accepted request is lost and it exits 0', async function () {
    this.timeout(60_000);
    // On MongoDB when there is one (real round trips keep many requests in flight), else the embedded store.
    const mongo = await getTestMongo();
    const dbName = freshDbName('shutdown');
    const childEnv = { ...process.env, MONGODB_URI: '', ...env({ LOG_LEVEL: 'info', ...(mongo ? { MONGODB_URI: uriWithDb(mongo.uri, dbName) } : {}) }) };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await waitFor(() => /"msg":"listening"/.test(out) || child.exitCode !== null, 30_000);
      const listening = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"listening"')) ?? '{}') as { address?: string };
      const port = Number(listening.address?.split(':').pop());
      expect(port, err).to.be.greaterThan(0);

      const messages = Array.from({ length: 150 }, (_, i) => inboundParams({ From: uniquePhone(), Body: `load ${i}` }));
      const replies = messages.map((m) => send(port, m));
      await waitFor(() => (out.match(/"msg":"request"/g) ?? []).length >= 10);
      child.kill('SIGTERM');
      const code = await exited;
      const results = await Promise.all(replies);

      expect(code, err).to.equal(0);
      const summary = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"shutdown complete"')) ?? '{}') as { drained?: boolean; abandoned?: number; drainMs?: number };
      // Server side: every connection it accepted ended on its own, its request answered.
      expect(summary).to.include({ drained: true, abandoned: 0 });
      const logged = new Set(
        out
          .split('\n')
          .filter((l) => l.includes('"msg":"request"'))
          .map((l) => JSON.parse(l) as { requestId: string; status: number })
          .filter((r) => r.status === 200)
          .map((r) => r.requestId),
      );
      const answered = results.filter((r) => r.status === 200);
      console.log(`      SIGTERM (${mongo ? 'MongoDB' : 'embedded store'}): ${answered.length} answered, ${messages.length - answered.length} never reached the service; drain ${summary.drainMs} ms`);
      expect(answered.length).to.be.at.least(10);
      expect(answered.every((r) => r.text.includes('<Message>'))).to.equal(true);
      expect(answered.length).to.equal(logged.size);
      // Client side: the rest never reached the service (refused, or reset by the kernel from the
      // listen backlog when the listener closed): none of them was seen, so none was lost.
      messages.forEach((m, i) => {
        const r = results[i] as Reply;
        if (r.status !== 200) {
          expect(r.error).to.be.oneOf(['ECONNREFUSED', 'ECONNRESET']);
          expect(logged.has(m.MessageSid as string)).to.equal(false);
          expect(out).to.not.contain(m.MessageSid as string);
        }
      });
    } finally {
      if (mongo) {
        await dropTestDb(mongo, dbName);
      }
    }
  });
});
