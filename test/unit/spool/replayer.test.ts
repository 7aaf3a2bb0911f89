import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadTestConfig } from '../../../src/config/load-config.js';
import type { InboundMessage, MessageRecord } from '../../../src/domain.js';
import { AppError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { createMetrics, type Metrics } from '../../../src/metrics.js';
import { buildSnapshot } from '../../../src/service/build-snapshot.js';
import { handleMessage } from '../../../src/service/handle-message.js';
import type { Snapshot } from '../../../src/service/live-config.js';
import { SpoolReplayer } from '../../../src/spool/replayer.js';
import { Spool } from '../../../src/spool/spool.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { createLogCapture, type LogCapture } from '../../support/log-capture.js';
import { addPatient, uniquePhone } from '../../support/test-app.js';
import { MemoryConversationStore } from '../../../src/conversations/memory-conversation-store.js';
import { notingRouting } from '../../support/conversations.js';
import { FIXTURE_RULES_DIR } from '../../support/fixture-rules.js';

/** The embedded store with a switch that makes it unreachable, as a database outage does. */
class SwitchableStore extends MemoryStore {
  down = false;
  inits = 0;
  /** When set, every n-th claim times out (a database slow under load, not down). */
  slowEvery = 0;
  private claims = 0;
  private check(): void {
    if (this.down) {
      throw new AppError('STORE_UNAVAILABLE', 'database unavailable');
    }
  }
  override async ping(): Promise<void> {
    this.check();
  }
  override async init(): Promise<void> {
    this.check();
    this.inits += 1;
  }
  override async claimMessage(record: MessageRecord): ReturnType<MemoryStore['claimMessage']> {
    this.check();
    this.claims += 1;
    if (this.slowEvery > 0 && this.claims % this.slowEvery === 0) {
      throw new AppError('STORE_UNAVAILABLE', 'database unavailable during claimMessage');
    }
    return super.claimMessage(record);
  }
}

const sid = (): string => `SM${randomBytes(16).toString('hex')}`;
const message = (from: string, body: string, overrides: Partial<InboundMessage> = {}): InboundMessage => ({
  messageSid: sid(),
  from,
  to: '+13125550100',
  body,
  numMedia: 0,
  media: [],
  extra: {},
  ...overrides,
});

describe('SpoolReplayer', () => {
  let dir: string;
  let logs: LogCapture;
  let store: SwitchableStore;
  let metrics: Metrics;
  let spool: Spool;
  let snapshot: Snapshot;
  let replayer: SpoolReplayer;
  /** The staff conversations the replayed messages reach. */
  let routing: ReturnType<typeof notingRouting>;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-replay-'));
    logs = createLogCapture();
    const logger = createLogger('info', logs);
    store = new SwitchableStore();
    routing = notingRouting(new MemoryConversationStore(store));
    metrics = createMetrics();
    spool = await Spool.open({ dir, logger, onDepth: (d) => metrics.spoolDepth.set(d) });
    const config = loadTestConfig({ authTokens: ['t'], clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: FIXTURE_RULES_DIR });
    snapshot = await buildSnapshot(config, { NORTHSIDE_AUTH_TOKEN: 'n' });
    replayer = new SpoolReplayer({
      spool,
      store,
      logger,
      metrics,
      replay: (m, at) => handleMessage({ store, staff: routing.staff, logger, metrics, clock: () => new Date() }, snapshot, m, 'replay', at),
      minDelayMs: 20,
      maxDelayMs: 80,
    });
  });

  afterEach(async () => {
    await replayer.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when the store answers, then every entry is replayed in order without a reply, recorded as replayed and removed', async () => {
    const phone = uniquePhone();
    const patient = await addPatient(store, { phone }, [{ startsAt: new Date(Date.now() + 86_400_000) }]);
    const t0 = Date.now() - 60_000;
    const confirm = message(phone, 'CONFIRM');
    const stop = message(phone, 'STOP');
    const start = message(phone, 'START');
    await spool.append(start, new Date(t0 + 2000));
    await spool.append(stop, new Date(t0 + 1000));
    await spool.append(confirm, new Date(t0));

    const report = await replayer.replayNow();

    expect(report).to.include({ found: 3, replayed: 3, failed: 0, left: 0, storeDown: false });
    expect(spool.depth()).to.equal(0);
    const confirmed = await store.getMessage(confirm.messageSid);
    expect(confirmed).to.include({ status: 'replayed', reply: null, via: 'replay', clinicId: 'downtown' });
    expect(confirmed?.receivedAt.toISOString()).to.equal(new Date(t0).toISOString());
    expect(confirmed?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['confirm-appointment:confirmed']);
    expect(confirmed?.patientIds).to.deep.equal([patient.id]);
    expect((await store.getMessage(stop.messageSid))?.status).to.equal('replayed');
    // STOP then START, as sent: the sender ends opted in.
    expect(await store.getOptOut('downtown', phone)).to.include({ optedOut: false, messageSid: start.messageSid });
    expect(await metrics.registry.getSingleMetricAsString('sms_spool_replayed_total')).to.contain('sms_spool_replayed_total{result="replayed"} 3');
    expect(await metrics.registry.getSingleMetricAsString('sms_spool_depth')).to.match(/sms_spool_depth 0$/m);
  });

  it('when an entry is replayed again (a crash after storing, before removing), then it is a duplicate and no action runs twice', async () => {
    const phone = uniquePhone();
    await addPatient(store, { phone }, [{ startsAt: new Date(Date.now() + 86_400_000) }]);
    const msg = message(phone, 'Can you call me back about my results?');
    await spool.append(msg, new Date());
    await replayer.replayNow();
    const before = await store.getMessage(msg.messageSid);

    await spool.append(msg, new Date());
    const report = await replayer.replayNow();

    expect(report).to.include({ replayed: 1, left: 0 });
    // Staff got the message once: the replay of a finished message runs no action.
    expect(routing.items.map((r) => [r.reason, r.message.messageSid])).to.deep.equal([['message', msg.messageSid]]);
    expect(await store.getMessage(msg.messageSid)).to.deep.equal(before);
    expect(await metrics.registry.getSingleMetricAsString('sms_spool_replayed_total')).to.contain('{result="duplicate"} 1');
  });

  it('when a record was claimed but never finished (the store died mid-message), then the replay takes it over', async () => {
    const phone = uniquePhone();
    const msg = message(phone, 'STOP');
    const receivedAt = new Date();
    await store.claimMessage({ messageSid: msg.messageSid, clinicId: 'downtown', message: msg, receivedAt, status: 'received', patientIds: [], rulesFired: [], actions: [], reply: null, via: 'webhook' });
    await spool.append(msg, receivedAt);

    await replayer.replayNow();

    expect((await store.getMessage(msg.messageSid))?.status).to.equal('replayed');
    expect((await store.getOptOut('downtown', phone))?.optedOut).to.equal(true);
  });

  it('when the store is down, then nothing leaves the spool; once it answers, the loop makes the indexes (once) and replays everything', async () => {
    store.down = true;
    const phone = uniquePhone();
    const msgs = [message(phone, 'STOP'), message(uniquePhone(), 'HELP'), message(uniquePhone(), 'hello')];
    for (const m of msgs) {
      await spool.append(m, new Date());
    }
    const down = await replayer.replayNow();
    expect(down).to.include({ storeDown: true, replayed: 0, left: 3 });

    replayer.start();
    await new Promise((r) => setTimeout(r, 150));
    expect(spool.depth()).to.equal(3);
    const initsWhileDown = store.inits;
    store.down = false;
    const deadline = Date.now() + 3000;
    while (spool.depth() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }

    expect(spool.depth()).to.equal(0);
    expect(store.inits).to.equal(initsWhileDown + 1);
    for (const m of msgs) {
      expect((await store.getMessage(m.messageSid))?.status).to.equal('replayed');
    }
    expect((await store.getOptOut('downtown', phone))?.optedOut).to.equal(true);
  });

  it('when the loop is idle and a message is spooled, then notify() wakes it at once', async () => {
    replayer.start();
    await new Promise((r) => setTimeout(r, 30));
    const msg = message(uniquePhone(), 'HELP');
    await spool.append(msg, new Date());
    replayer.notify();
    const deadline = Date.now() + 2000;
    while (spool.depth() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(spool.depth()).to.equal(0);
  });

  it('when one entry fails for another reason, then it and its sender\'s later entries stay, other senders go through', async () => {
    const badSender = uniquePhone();
    const okSender = uniquePhone();
    const failing = message(badSender, 'hello', { to: '+13125550300' });
    const later = message(badSender, 'STOP', { to: '+13125550300' });
    const other = message(okSender, 'STOP');
    const broken: Snapshot = { ...snapshot, rules: new Map([...snapshot.rules].filter(([id]) => id !== 'northside')) };
    const t0 = Date.now() - 10_000;
    await spool.append(failing, new Date(t0));
    await spool.append(later, new Date(t0 + 1));
    await spool.append(other, new Date(t0 + 2));
    const pipeline = { store, staff: routing.staff, logger: createLogger('info', logs), metrics, clock: () => new Date() };
    const r = new SpoolReplayer({ ...pipeline, spool, replay: (m, at) => handleMessage(pipeline, broken, m, 'replay', at) });

    const report = await r.replayNow();

    expect(report).to.include({ found: 3, replayed: 1, failed: 1, left: 2, storeDown: false });
    expect((await store.getMessage(other.messageSid))?.status).to.equal('replayed');
    expect((await store.getMessage(failing.messageSid))?.status).to.equal('error');
    expect(await store.getMessage(later.messageSid)).to.equal(null);
    expect(logs.text()).not.to.contain(badSender.slice(2));
    const again = await replayer.replayNow();
    expect(again).to.include({ replayed: 2, left: 0 });
    expect((await store.getOptOut('northside', badSender))?.optedOut).to.equal(true);
  });

  it('when many senders wait, then up to `concurrency` of them replay side by side, each one\'s entries in the order received', async () => {
    const senders = Array.from({ length: 6 }, () => uniquePhone());
    const t0 = Date.now() - 60_000;
    const sent = new Map<string, string[]>(senders.map((p) => [p, []]));
    for (let i = 0; i < 3; i += 1) {
      for (const [n, phone] of senders.entries()) {
        const m = message(phone, i === 1 ? 'STOP' : 'HELP');
        sent.get(phone)?.push(m.messageSid);
        await spool.append(m, new Date(t0 + i * 1000 + n));
      }
    }
    const pipeline = { store, staff: routing.staff, logger: createLogger('info', logs), metrics, clock: () => new Date() };
    let inFlight = 0;
    let most = 0;
    const replayed = new Map<string, string[]>(senders.map((p) => [p, []]));
    const r = new SpoolReplayer({
      ...pipeline,
      spool,
      concurrency: 3,
      replay: async (m, at) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        // a database round trip's wait, during which other senders' entries go on
        await new Promise((resolve) => setTimeout(resolve, 5));
        try {
          return await handleMessage(pipeline, snapshot, m, 'replay', at);
        } finally {
          inFlight -= 1;
          replayed.get(m.from)?.push(m.messageSid);
        }
      },
    });

    const report = await r.replayNow();

    expect(report).to.include({ found: 18, replayed: 18, failed: 0, left: 0, storeDown: false });
    expect(most).to.equal(3);
    expect([...replayed]).to.deep.equal([...sent]);
  });

  it('when some replays time out (a slow database, not a down one), then the others go through, their senders wait, and indexes are not created again', async () => {
    await replayer.replayNow(); // the first pass creates the indexes
    const inits = store.inits;
    const senders = Array.from({ length: 12 }, () => uniquePhone());
    for (const phone of senders) {
      await spool.append(message(phone, 'HELP'), new Date(Date.now() - 10_000));
    }
    store.slowEvery = 4;

    const report = await replayer.replayNow();

    expect(report).to.include({ found: 12, replayed: 9, failed: 0, left: 3, storeDown: true });
    store.slowEvery = 0;
    expect(await replayer.replayNow()).to.include({ found: 3, replayed: 3, left: 0, storeDown: false });
    expect(store.inits).to.equal(inits);
  });

  it('when the store becomes unavailable after the indexes were made (every replay, then the ping, fail), then the loop backs off and init() is not run again once it answers', async () => {
    await replayer.replayNow(); // the first pass creates the indexes
    const inits = store.inits;
    for (let i = 0; i < 3; i++) {
      await spool.append(message(uniquePhone(), 'HELP'), new Date());
    }
    store.down = true;
    replayer.start();
    // Several passes fail (backing off 20, 40, 80, 80 ms ...) while the database is down.
    await new Promise((r) => setTimeout(r, 300));
    expect(spool.depth()).to.equal(3);
    store.down = false;
    const deadline = Date.now() + 3000;
    while (spool.depth() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(spool.depth()).to.equal(0);
    expect(store.inits).to.equal(inits);
  });

  it('when stop() is called, then the loop ends promptly even while the store is down', async () => {
    store.down = true;
    await spool.append(message(uniquePhone(), 'HELP'), new Date());
    replayer.start();
    await new Promise((r) => setTimeout(r, 50));
    const t = Date.now();
    await replayer.stop();
    expect(Date.now() - t).to.be.below(200);
    expect(spool.depth()).to.equal(1);
  });
});
