import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import type { EventType } from '../../src/events/event-types.js';
import { startService, type RunningService } from '../../src/main.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { downtownWithEndpoint, newSecret } from '../support/event-builders.js';
import { eventually, startEventReceiver, type EventReceiver } from '../support/event-receiver.js';
import { dropTestDb, getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';
import { MemoryConversationStore } from '../../src/conversations/memory-conversation-store.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { backendFor } from '../support/backends.js';

/** start()'s rejection when the store kind has no server here: only this skips a test; any other failure fails it. */
const NO_STORE = new Error('no MongoDB server for this store kind');

const DOWNTOWN = '+13125550100';

const kinds: { name: string; make(): Promise<{ store: Store; dispose(): Promise<void> } | null> }[] = [
  { name: 'memory store', make: async () => ({ store: new MemoryStore(), dispose: async () => undefined }) },
  {
    name: 'MongoDB store',
    make: async () => {
      const server = await getTestMongo();
      if (!server) {
        return null;
      }
      const handle = await openTestMongoStore(server, { label: 'events_e2e' });
      // The service closes the store when it stops: the database is dropped with a client of its own.
      return { store: handle.store, dispose: () => dropTestDb(server, handle.dbName) };
    },
  },
];

for (const kind of kinds) {
  describe(`events end to end (${kind.name})`, function () {
    let service: RunningService | null = null;
    let receiver: EventReceiver;
    let dir: string;
    let dispose: (() => Promise<void>) | undefined;
    const secret = newSecret();

    async function start(options: { timeoutMs?: number } = {}): Promise<RunningService> {
      const made = await kind.make();
      if (!made) {
        // No MongoDB server for this kind: the test skips (loudly, see test/support/mongo.ts).
        return Promise.reject(NO_STORE);
      }
      dispose = made.dispose;
      receiver = await startEventReceiver(secret);
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-events-'));
      const clinics = path.join(dir, 'clinics.yaml');
      await fs.writeFile(clinics, downtownWithEndpoint(DOWNTOWN, receiver.url));
      service = await startService(
        fixtureServiceEnv({ CLINICS_FILE: clinics, SPOOL_DIR: path.join(dir, 'spool'), DOWNTOWN_EVENTS_SECRET: secret }),
        { backend: backendFor(made.store), events: { pollMs: 25, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) } },
      );
      return service;
    }

    afterEach(async function () {
      await service?.stop();
      service = null;
      await receiver?.close();
      await dispose?.();
      dispose = undefined;
      if (dir) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    async function patientWithAppointment(s: RunningService): Promise<{ phone: string; patientId: string; appointmentId: string }> {
      const phone = uniquePhone();
      const patientId = `p-${phone.slice(-6)}`;
      const appointmentId = `a-${phone.slice(-6)}`;
      await s.store.upsertPatients([{ id: patientId, clinicId: 'downtown', firstName: 'Ana', lastName: 'Diaz', phone }]);
      await s.store.upsertAppointments([{ id: appointmentId, clinicId: 'downtown', patientId, startsAt: new Date('2030-01-01T15:00:00Z'), status: 'scheduled' }]);
      return { phone, patientId, appointmentId };
    }

    async function text(s: RunningService, from: string, body: string, sid?: string): Promise<{ status: number; ms: number; sid: string }> {
      const params = inboundParams({ From: from, To: DOWNTOWN, Body: body, ...(sid ? { MessageSid: sid } : {}) });
      const { body: form, signature } = signedRequest(params);
      const started = Date.now();
      const res = await request(s.server).post(WEBHOOK_PATH).set('content-type', 'application/x-www-form-urlencoded').set('x-twilio-signature', signature).send(form);
      return { status: res.status, ms: Date.now() - started, sid: String(params.MessageSid) };
    }

    const ofType = (type: EventType): EventReceiver['received'] => receiver.received.filter((r) => r.body.type === type);

    it('when patients confirm, cancel, reschedule, stop, start and write to staff, and an unknown number stops, then each produces one verified event with thin data', async function () {
      const s = await start().catch((err: unknown) => (err === NO_STORE ? this.skip() : Promise.reject(err)));
      const a = await patientWithAppointment(s);
      const b = await patientWithAppointment(s);
      const c = await patientWithAppointment(s);
      const stranger = uniquePhone();
      const confirm = await text(s, a.phone, 'CONFIRM');
      const cancel = await text(s, b.phone, 'cancel appt');
      await text(s, c.phone, 'RESCHEDULE');
      const stop = await text(s, a.phone, 'STOP');
      await text(s, a.phone, 'START');
      const routed = await text(s, c.phone, 'is parking free? my name is Ana Diaz');
      await text(s, stranger, 'STOP');
      await eventually(() => receiver.received.length >= 7, 8000, 'seven events');
      expect(receiver.rejected).to.equal(0);
      expect(receiver.received.map((r) => r.body.type).sort()).to.deep.equal([
        'appointment.cancel_requested',
        'appointment.confirmed',
        'appointment.reschedule_requested',
        'consent.opted_in',
        'consent.opted_out',
        'consent.opted_out',
        'message.routed',
      ]);
      const confirmed = ofType('appointment.confirmed')[0]!.body;
      expect(confirmed.data).to.include({ clinicId: 'downtown', appointmentId: a.appointmentId, messageSid: confirm.sid, status: 'confirmed', previousStatus: 'scheduled' });
      expect(confirmed.data.patientIds).to.deep.equal([a.patientId]);
      expect(ofType('appointment.cancel_requested')[0]!.body.data).to.include({ appointmentId: b.appointmentId, messageSid: cancel.sid, status: 'cancel-requested' });
      expect(ofType('appointment.reschedule_requested')[0]!.body.data).to.include({ appointmentId: c.appointmentId, status: 'reschedule-requested' });
      const optOuts = ofType('consent.opted_out').map((r) => r.body.data);
      expect(optOuts.find((d) => d.messageSid === stop.sid)).to.include({ phone: a.phone, optedOut: true, changed: true });
      expect(optOuts.find((d) => d.phone === stranger)).to.deep.include({ patientIds: [], optedOut: true });
      expect(ofType('consent.opted_in')[0]!.body.data).to.include({ phone: a.phone, optedOut: false });
      expect(ofType('message.routed')[0]!.body.data).to.include({ messageSid: routed.sid, mediaCount: 0 });
      // Thin: no body, no name anywhere; the phone only in consent events.
      const all = JSON.stringify(receiver.received.map((r) => r.body));
      expect(all).to.not.match(/parking|Ana|Diaz|CONFIRM|RESCHEDULE/);
      for (const r of receiver.received.filter((x) => !x.body.type.startsWith('consent.'))) {
        expect(JSON.stringify(r.body)).to.not.include(a.phone.slice(1)).and.not.include(b.phone.slice(1)).and.not.include(c.phone.slice(1));
      }
      // The outbox rides on the message record.
      expect((await s.store.getMessage(confirm.sid))?.outbox?.map((e) => e.type)).to.deep.equal(['appointment.confirmed']);
    });

    it('when Twilio delivers one MessageSid three times, then one event is delivered', async function () {
      const s = await start().catch((err: unknown) => (err === NO_STORE ? this.skip() : Promise.reject(err)));
      const a = await patientWithAppointment(s);
      const first = await text(s, a.phone, 'CONFIRM');
      await text(s, a.phone, 'CONFIRM', first.sid);
      await text(s, a.phone, 'CONFIRM', first.sid);
      await eventually(() => receiver.received.length === 1, 10_000, 'the event');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.received).to.have.length(1);
      expect((await s.events.oldestPendingAgeSeconds())).to.equal(0);
    });

    it('when a spooled message is replayed, then its events are produced then, with the time it first arrived', async function () {
      const s = await start().catch((err: unknown) => (err === NO_STORE ? this.skip() : Promise.reject(err)));
      const a = await patientWithAppointment(s);
      const arrived = new Date(Date.now() - 60_000);
      const message = { messageSid: `SM${'e'.repeat(24)}${a.phone.slice(-8)}`, from: a.phone, to: DOWNTOWN, body: 'CONFIRM', numMedia: 0, media: [], extra: {} };
      await handleMessage({ store: s.store, staff: conversationRouting(new MemoryConversationStore(s.store)), logger: s.logger, metrics: s.metrics, clock: () => new Date() }, s.live.snapshot(), message, 'replay', arrived);
      await eventually(() => receiver.received.length === 1, 10_000, 'the event');
      expect(receiver.received[0]!.body.data).to.include({ messageSid: message.messageSid, appointmentId: a.appointmentId });
      const latencyText = (): Promise<string> => s.metrics.registry.getSingleMetricAsString('sms_event_delivery_latency_seconds');
      await eventually(async () => /_count\{clinic="downtown",type="appointment.confirmed"\} 1/.test(await latencyText()), 10_000, 'the latency sample');
      const latency = await latencyText();
      // Measured from the first arrival: at least the minute it waited.
      expect(latency).to.match(/le="30",clinic="downtown",type="appointment.confirmed"\} 0/);
    });

    it('when the receiver never answers, then webhook replies are not held back, the event waits in flight, and /readyz shows its age while staying ready', async function () {
      const s = await start({ timeoutMs: 10_000 }).catch((err: unknown) => (err === NO_STORE ? this.skip() : Promise.reject(err)));
      receiver.answer = () => 'hang';
      const a = await patientWithAppointment(s);
      await text(s, a.phone, 'CONFIRM');
      await eventually(() => receiver.received.length === 1, 10_000, 'the hanging request');
      const times: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const r = await text(s, a.phone, 'HELP');
        expect(r.status).to.equal(200);
        times.push(r.ms);
      }
      expect(Math.max(...times)).to.be.below(1000);
      const ready = await request(s.server).get('/readyz');
      expect(ready.status).to.equal(200);
      expect(ready.body.details.eventsOldestPendingAgeSeconds).to.be.a('number');
      const metrics = await request(s.server).get('/metrics');
      expect(metrics.text).to.match(/sms_events\{clinic="downtown",type="appointment.confirmed",status="pending"\} 1/);
    });
  });
}
