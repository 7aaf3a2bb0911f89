import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { EventDispatcher, type DispatcherOptions } from '../../src/events/dispatcher.js';
import type { EventEndpoint } from '../../src/config/event-endpoints.js';
import { createEventMetrics } from '../../src/events/event-metrics.js';
import type { EventOutboxStore } from '../../src/events/outbox-store.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { newClinicId } from '../contract/store-fixtures.js';
import { aDelivery, anEndpoint, newSecret } from '../support/event-builders.js';
import { startEventReceiver, eventually, type EventReceiver } from '../support/event-receiver.js';
import { eventStoreKinds, type EventStoreHandle } from '../support/event-store-kinds.js';
import { createLogCapture, type LogCapture } from '../support/log-capture.js';

/** A short schedule so retries happen within a test. */
const FAST = [0, 40, 40, 40];

for (const kind of eventStoreKinds()) {
  describe(`event delivery (${kind.name})`, function () {
    let handle: EventStoreHandle;
    let store: EventOutboxStore;
    let logs: LogCapture;
    const receivers: EventReceiver[] = [];
    const dispatchers: EventDispatcher[] = [];

    beforeEach(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      handle = made;
      store = made.store;
      logs = createLogCapture();
    });

    afterEach(async function () {
      await Promise.all(dispatchers.splice(0).map((d) => d.kill()));
      await Promise.all(receivers.splice(0).map((r) => r.close()));
      await handle?.dispose();
    });

    async function receiver(secret: string): Promise<EventReceiver> {
      const r = await startEventReceiver(secret);
      receivers.push(r);
      return r;
    }

    function dispatcher(endpoints: EventEndpoint[], options: Partial<DispatcherOptions> = {}): EventDispatcher {
      const byId = new Map(endpoints.map((e) => [e.id, e]));
      const d = new EventDispatcher({
        store,
        endpoint: (id) => byId.get(id),
        logger: createLogger('info', logs),
        metrics: createEventMetrics(createMetrics().registry),
        pollMs: 20,
        timeoutMs: 2000,
        retryDelaysMs: FAST,
        ...options,
      });
      dispatchers.push(d);
      d.start();
      return d;
    }

    const now = (): Date => new Date();

    it('when the receiver answers 500 and then 200, then it gets the same webhook-id and body twice, verified, and the delivery is delivered after 2 attempts', async function () {
      const secret = newSecret();
      const r = await receiver(secret);
      r.answer = (n) => ({ status: n === 0 ? 500 : 200 });
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId, url: r.url, secrets: [secret] });
      const d = aDelivery({ clinicId }, endpoint, now());
      await store.addJobs([d]);
      dispatcher([endpoint]);
      await eventually(async () => (await store.find(d.id))[0]?.status === 'delivered', 10_000, 'delivered');
      expect(r.rejected).to.equal(0);
      expect(r.received.map((x) => x.id)).to.deep.equal([d.eventId, d.eventId]);
      expect(r.received[0]!.body).to.deep.equal(r.received[1]!.body);
      expect(r.received[0]!.body).to.deep.equal(d.envelope);
      expect((await store.find(d.id))[0]).to.include({ attempts: 2, lastStatus: 200 });
    });

    it('when two secrets are configured (rotation), then the signature header carries both and a receiver holding either verifies it', async function () {
      const [current, previous] = [newSecret(), newSecret()];
      const r = await receiver(previous);
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId, url: r.url, secrets: [current, previous] });
      const d = aDelivery({ clinicId }, endpoint, now());
      await store.addJobs([d]);
      dispatcher([endpoint]);
      await eventually(() => r.received.length === 1, 10_000, 'one request');
      const got = r.received[0]!;
      expect(got.signature.split(' ')).to.have.length(2);
      const headers = { 'webhook-id': got.id, 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature };
      expect(new Webhook(current).verify(JSON.stringify(got.body), headers)).to.deep.equal(got.body);
    });

    it('when the receiver answers 410, then the endpoint is disabled, its other pending deliveries fail, an error is logged, and another endpoint still gets its events', async function () {
      const secret = newSecret();
      const gone = await receiver(secret);
      gone.answer = () => ({ status: 410 });
      const fine = await receiver(secret);
      const clinicId = newClinicId();
      const a = anEndpoint({ clinicId, url: gone.url, secrets: [secret] });
      const b = anEndpoint({ clinicId, url: fine.url, secrets: [secret] });
      const first = aDelivery({ clinicId }, a, now());
      const second = { ...aDelivery({ clinicId }, a, now()), nextAttemptAt: new Date(Date.now() + 60_000) };
      const other = aDelivery({ clinicId }, b, now());
      await store.addJobs([first, second, other]);
      dispatcher([a, b]);
      // The 410'd delivery is finished first, then the endpoint is disabled and its other
      // pending deliveries fail: wait for the last of these writes too.
      const failed = async (id: string): Promise<boolean> => (await store.find(id))[0]?.status === 'failed';
      await eventually(async () => (await failed(first.id)) && (await failed(second.id)) && (await store.find(other.id))[0]?.status === 'delivered', 10_000, 'settled');
      expect((await store.find(second.id))[0]).to.include({ status: 'failed', lastError: 'endpoint disabled (410 Gone)' });
      expect((await store.disabledEndpoints()).has(a.id)).to.equal(true);
      expect(gone.received).to.have.length(1);
      const errors = logs.records().filter((l) => l.level === 50);
      expect(errors.map((l) => l.msg).join()).to.match(/410 Gone; endpoint disabled/);
      expect(logs.text()).to.not.include(gone.url);
    });

    it('when the receiver answers 429 with Retry-After: 1, then the next attempt waits a second, not the schedule\'s 40 ms', async function () {
      const secret = newSecret();
      const r = await receiver(secret);
      r.answer = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId, url: r.url, secrets: [secret] });
      const d = aDelivery({ clinicId }, endpoint, now());
      await store.addJobs([d]);
      dispatcher([endpoint]);
      await eventually(() => r.received.length === 2, 10_000, 'the retry');
      expect(r.received[1]!.at - r.received[0]!.at).to.be.at.least(950);
    });

    it('when a receiver hangs, then the attempt ends at the request timeout and is retried, while another endpoint is delivered meanwhile', async function () {
      const secret = newSecret();
      const hang = await receiver(secret);
      hang.answer = () => 'hang';
      const fine = await receiver(secret);
      const clinicId = newClinicId();
      const a = anEndpoint({ clinicId, url: hang.url, secrets: [secret] });
      const b = anEndpoint({ clinicId, url: fine.url, secrets: [secret] });
      const stuck = aDelivery({ clinicId }, a, now());
      await store.addJobs([stuck]);
      dispatcher([a, b], { timeoutMs: 1500, leaseMs: 3000, retryDelaysMs: [0, 60_000] });
      await eventually(() => hang.received.length === 1, 10_000, 'the hanging request');
      const other = aDelivery({ clinicId }, b, now());
      await store.addJobs([other]);
      await eventually(async () => (await store.find(other.id))[0]?.status === 'delivered', 1200, 'the other endpoint, before the timeout');
      // Still in flight: the hanging request has not timed out yet.
      expect((await store.find(stuck.id))[0]).to.include({ status: 'pending', attempts: 0 });
      await eventually(async () => (await store.find(stuck.id))[0]?.lastError === 'timeout', 3000, 'the timeout');
      expect((await store.find(stuck.id))[0]).to.include({ status: 'pending', attempts: 1 });
    });

    it('when every attempt fails, then after the last one the delivery is failed and kept', async function () {
      const secret = newSecret();
      const r = await receiver(secret);
      r.answer = () => ({ status: 500 });
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId, url: r.url, secrets: [secret] });
      const d = aDelivery({ clinicId }, endpoint, now());
      await store.addJobs([d]);
      dispatcher([endpoint]);
      await eventually(async () => (await store.find(d.id))[0]?.status === 'failed', 10_000, 'failed');
      expect(r.received).to.have.length(FAST.length);
      expect((await store.list({ clinicId, status: 'failed' })).map((x) => x.id)).to.deep.equal([d.id]);
    });

    it('when a failed delivery is replayed and fails again, then it gets the whole schedule again, and its attempts count on from its history', async function () {
      const secret = newSecret();
      const r = await receiver(secret);
      r.answer = () => ({ status: 500 });
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId, url: r.url, secrets: [secret] });
      const d = aDelivery({ clinicId }, endpoint, now());
      await store.addJobs([d]);
      dispatcher([endpoint]);
      await eventually(async () => (await store.find(d.id))[0]?.status === 'failed', 10_000, 'failed');
      expect(await store.requeue({ ids: [d.id] }, now())).to.equal(1);
      await eventually(async () => (await store.find(d.id))[0]?.attempts === 2 * FAST.length && (await store.find(d.id))[0]?.status === 'failed', 10_000, 'failed again');
      const [after] = await store.find(d.id);
      expect(r.received).to.have.length(2 * FAST.length);
      expect(after!.replays?.map((x) => [x.attemptsBefore, x.statusBefore, x.lastErrorBefore])).to.deep.equal([[FAST.length, 'failed', 'HTTP 500']]);
    });

    it('when two dispatchers (two instances) share the store, then each event is delivered exactly once', async function () {
      const secret = newSecret();
      const r = await receiver(secret);
      const clinicId = newClinicId();
      const endpoints = [anEndpoint({ clinicId, url: `${r.url}/a`, secrets: [secret] }), anEndpoint({ clinicId, url: `${r.url}/b`, secrets: [secret] })];
      const ds = Array.from({ length: 12 }, (_, i) => aDelivery({ clinicId }, endpoints[i % 2], now()));
      await store.addJobs(ds);
      dispatcher(endpoints);
      dispatcher(endpoints, { store: handle.another() });
      await eventually(async () => (await store.list({ clinicId, status: 'delivered', limit: 100 })).length === ds.length, 10_000, 'all delivered');
      const ids = r.received.map((x) => x.id).sort();
      expect(ids).to.deep.equal(ds.map((d) => d.eventId).sort());
    });

    it('when a dispatcher is killed mid-delivery, then after its lease runs out another delivers the event', async function () {
      const secret = newSecret();
      const r = await receiver(secret);
      r.answer = (n) => (n === 0 ? 'hang' : { status: 200 });
      const clinicId = newClinicId();
      const endpoint = anEndpoint({ clinicId, url: r.url, secrets: [secret] });
      const d = aDelivery({ clinicId }, endpoint, now());
      await store.addJobs([d]);
      const first = dispatcher([endpoint], { timeoutMs: 2000, leaseMs: 2500 });
      await eventually(() => r.received.length === 1, 10_000, 'the first attempt');
      await first.kill();
      const killedAt = Date.now();
      dispatcher([endpoint], { store: handle.another(), timeoutMs: 2000, leaseMs: 2500 });
      await eventually(async () => (await store.find(d.id))[0]?.status === 'delivered', 15_000, 'delivered by the second');
      expect(r.received.map((x) => x.id)).to.deep.equal([d.eventId, d.eventId]);
      // Not before the dead instance's lease ran out, and with one attempt on record (the dead one wrote nothing).
      expect(r.received[1]!.at - r.received[0]!.at).to.be.at.least(2400);
      expect(r.received[1]!.at - killedAt).to.be.below(10_000);
      expect((await store.find(d.id))[0]).to.include({ attempts: 1 });
    });
  });
}
