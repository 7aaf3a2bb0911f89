import { expect } from 'chai';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadTestConfig } from '../../src/config/load-config.js';
import { appointmentStatus } from '../../src/domain.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { createMongoStore } from '../../src/store/mongo/create-mongo-store.js';
import { openBackend } from '../../src/store/backend.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../support/mongo.js';
import { describeStoreContract } from './store.contract.js';
import { aMessage, anAppointment, aPatient, newClinicId, newPhone, newSid } from './store-fixtures.js';
import { MongoConversationStore } from '../../src/conversations/mongo-conversation-store.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';

/** The fixture clinic `downtown` (test/fixtures/clinics.yaml): always open, no business hours. */
const DOWNTOWN_NUMBER = '+13125550100';

describeStoreContract('mongo', async () => {
  const server = await getTestMongo();
  if (!server) {
    return null;
  }
  const handle = await openTestMongoStore(server, { label: 'contract' });
  return { store: handle.store, dispose: () => handle.dispose() };
});

describe('MongoStore on the wire', function () {
  let handle: TestMongoStore | undefined;

  before(async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'wire', monitor: true });
  });

  after(async function () {
    await handle?.dispose();
  });

  /** Runs one message through the real pipeline (fixture clinics, default rules) and returns its reply and the commands it cost. */
  async function commandsOf(body: string, from: string, now: Date): Promise<{ reply: string | null; commands: string[] }> {
    const { store, commands } = handle!;
    const config = loadTestConfig({ authTokens: ['test-token'], clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: FIXTURE_RULES_DIR });
    const snapshot = await buildSnapshot(config, { NORTHSIDE_AUTH_TOKEN: 'northside-token' }, now);
    const staff = conversationRouting(new MongoConversationStore(store.database));
    const deps = { store, staff, logger: createLogger('silent'), metrics: createMetrics(), clock: () => now };
    const sid = newSid();
    const message = { messageSid: sid, from, to: DOWNTOWN_NUMBER, body, numMedia: 0, media: [], extra: {} };
    commands!.reset();
    const result = await handleMessage(deps, snapshot, message);
    const names = [...commands!.names];
    await store.settle();
    expect(commands!.names, 'nothing runs after the reply').to.deep.equal(names);
    return { reply: result.reply, commands: names };
  }

  it('when a known patient texts CONFIRM, then the pipeline costs exactly 5 database commands and the appointment is confirmed', async function () {
    const { store } = handle!;
    const phone = newPhone();
    const patient = aPatient({ clinicId: 'downtown', phone });
    const appointment = anAppointment({ clinicId: 'downtown', patientId: patient.id, startsAt: new Date('2026-12-01T15:00:00Z') });
    await store.upsertPatients([patient]);
    await store.upsertAppointments([appointment]);
    const now = new Date('2026-11-30T18:00:00Z');
    await commandsOf('hello', phone, now); // warms the connection pool and creates the sender document

    const confirm = await commandsOf('CONFIRM', phone, now);
    // claim, sender (count + opt-out + patients), the soonest appointment read, then moved on
    // its _id unless a newer response stands (see advanceNextAppointment), completion.
    expect(confirm.commands).to.deep.equal(['insert', 'findAndModify', 'find', 'findAndModify', 'update']);
    expect(confirm.reply).to.match(/confirmed/i);
    expect(appointmentStatus((await store.getAppointment(appointment.id))!)).to.equal('confirmed');

    // A later CONFIRM, in the same rate window (at the very same instant the smaller
    // MessageSid would take the response over: see Store.advanceNextAppointment).
    const again = await commandsOf('CONFIRM', phone, new Date(now.getTime() + 1_000));
    // Already confirmed: the read says so, nothing is written.
    expect(again.commands).to.deep.equal(['insert', 'findAndModify', 'find', 'update']);
    expect(again.reply).to.not.equal(confirm.reply);
  });

  it('when a known patient texts HELP, then the pipeline costs exactly 3 database commands', async function () {
    const { store } = handle!;
    const phone = newPhone();
    await store.upsertPatients([aPatient({ clinicId: 'downtown', phone })]);
    const now = new Date('2026-11-30T18:00:00Z');
    await commandsOf('hello', phone, now);
    const help = await commandsOf('HELP', phone, now);
    expect(help.commands).to.deep.equal(['insert', 'findAndModify', 'update']);
    expect(help.reply).to.be.a('string');
  });

  it('when appointments of the earlier shape (status a string, top-level updatedAt) are there, then init() upgrades them and they behave as before', async function () {
    const { store, dbName } = handle!;
    const clinicId = newClinicId();
    const raw = store.client.db(dbName).collection('appointments');
    const base = { clinicId, patientId: 'p-legacy' };
    const stamp = new Date('2026-05-30T08:00:00Z');
    await raw.insertMany([
      { _id: `${clinicId}-1` as never, id: `${clinicId}-1`, ...base, startsAt: new Date('2026-12-01T09:00:00Z'), status: 'cancelled' },
      { _id: `${clinicId}-2` as never, id: `${clinicId}-2`, ...base, startsAt: new Date('2026-12-02T09:00:00Z'), status: 'confirmed', updatedAt: stamp, provider: 'Dr. Lee' },
      { _id: `${clinicId}-3` as never, id: `${clinicId}-3`, ...base, startsAt: new Date('2026-12-03T09:00:00Z'), status: 'scheduled' },
    ]);
    await store.init();
    await store.init();
    // A confirmed status with a time was a patient's CONFIRM: it is their response now.
    const second = { id: `${clinicId}-2`, ...base, startsAt: new Date('2026-12-02T09:00:00Z'), status: 'scheduled', provider: 'Dr. Lee', patientResponse: { kind: 'confirmed', at: stamp } };
    expect(await store.getAppointment(`${clinicId}-2`)).to.deep.equal(second);
    expect(await raw.findOne({ _id: `${clinicId}-2` as never })).to.deep.equal({
      _id: `${clinicId}-2`,
      id: `${clinicId}-2`,
      ...base,
      startsAt: second.startsAt,
      provider: 'Dr. Lee',
      status: { order: -1, name: 'confirmed', since: stamp },
      imported: 'scheduled',
    });
    // $min compares embedded documents key by key: the order of the keys is part of the shape.
    expect(Object.keys((await raw.findOne({ _id: `${clinicId}-2` as never }))?.status as object)).to.deep.equal(['order', 'name', 'since']);
    expect(await store.getAppointment(`${clinicId}-1`)).to.deep.equal({ id: `${clinicId}-1`, ...base, startsAt: new Date('2026-12-01T09:00:00Z'), status: 'cancelled' });
    const now = new Date('2026-11-30T12:00:00Z');
    expect(await store.findNextAppointment(clinicId, ['p-legacy'], now)).to.deep.equal(second);
    expect(await store.advanceNextAppointment(clinicId, ['p-legacy'], now, 'confirmed', { at: now, messageSid: 'SMlater' })).to.deep.equal({ before: second, after: second });
    const cancel = await store.advanceNextAppointment(clinicId, ['p-legacy'], now, 'cancel-requested', { at: now, messageSid: 'SMcancel' });
    expect(cancel.after).to.deep.equal({ ...second, patientResponse: { kind: 'cancel-requested', at: now, messageSid: 'SMcancel' } });
  });

  it('when appointments hold a patient response in their one status (the shape before patientResponse), then init() splits them, once, and a re-import keeps the response', async function () {
    const { store, dbName } = handle!;
    const clinicId = newClinicId();
    const raw = store.client.db(dbName).collection('appointments');
    const base = { clinicId, patientId: 'p-split' };
    const stamp = new Date('2026-05-30T08:00:00Z');
    const doc = (n: number, status: Record<string, unknown>): Record<string, unknown> => ({ _id: `${clinicId}-${n}`, id: `${clinicId}-${n}`, ...base, startsAt: new Date(`2026-12-0${n}T09:00:00Z`), status });
    await raw.insertMany([
      doc(1, { order: 0, name: 'scheduled' }),
      doc(2, { order: -1, name: 'confirmed' }), // imported confirmed: the practice's
      doc(3, { order: -1, name: 'confirmed', since: stamp }), // a CONFIRM by SMS
      doc(4, { order: -3, name: 'cancel-requested', since: stamp }),
      doc(5, { order: -2, name: 'reschedule-requested' }), // from an old import file: kept, time unknown
      doc(6, { order: -4, name: 'cancelled' }),
    ] as never[]);
    await store.init();
    const after = await raw.find({ clinicId }).sort({ _id: 1 }).toArray();
    await store.init();
    expect(await raw.find({ clinicId }).sort({ _id: 1 }).toArray(), 'a second init changes nothing').to.deep.equal(after);
    const read = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => store.getAppointment(`${clinicId}-${n}`)));
    expect(read.map((a) => [a?.status, a?.patientResponse ?? null])).to.deep.equal([
      ['scheduled', null],
      ['confirmed', null],
      ['scheduled', { kind: 'confirmed', at: stamp }],
      ['scheduled', { kind: 'cancel-requested', at: stamp }],
      ['scheduled', { kind: 'reschedule-requested', at: new Date(0) }],
      ['cancelled', null],
    ]);
    expect(read.map((a) => appointmentStatus(a!))).to.deep.equal(['scheduled', 'confirmed', 'confirmed', 'cancel-requested', 'reschedule-requested', 'cancelled']);
    expect(await store.upsertAppointments([{ ...read[3]!, provider: 'Dr. Ng' }])).to.deep.include({ updated: 1, retiredResponses: 0 });
    expect((await store.getAppointment(`${clinicId}-4`))?.patientResponse).to.deep.equal({ kind: 'cancel-requested', at: stamp });
  });

  it('when a known patient texts something for staff, then the pipeline costs exactly 4 database commands, the conversation upsert in place of the old inbox insert', async function () {
    const { store } = handle!;
    const phone = newPhone();
    await store.upsertPatients([aPatient({ clinicId: 'downtown', phone })]);
    // Tuesday 10:00 in Chicago: in business hours, so the message-to-staff rule routes it.
    const now = new Date('2026-12-01T16:00:00Z');
    await commandsOf('hello', phone, now);

    const routed = await commandsOf('Running late, sorry', phone, now);
    expect(routed.reply).to.match(/will respond shortly/);
    // claim, sender, the conversation (one upsert), completion.
    expect(routed.commands).to.deep.equal(['insert', 'findAndModify', 'update', 'update']);
  });

  it('when init() has run, then every required index exists, and a server refusing TTL indexes does not fail it', async function () {
    const db = handle!.store.client.db(handle!.dbName);
    const names = async (collection: string): Promise<string[]> => (await db.collection(collection).indexes()).map((i) => String(i.name)).sort();
    expect(await names('patients')).to.include('clinic_phone');
    expect(await names('appointments')).to.include('clinic_patient_start');
    expect(await names('messages')).to.include.members(['messageSid_unique', 'clinic_receivedAt']);
    expect(await names('optOuts')).to.include('clinic_phone_unique');
    const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(collections).to.include.members(['patients', 'appointments', 'messages', 'optOuts', 'rateLimits']);
    expect(collections, 'conversations replaced the inbox').not.to.include('inbox');
    await handle!.store.init();
  });

  it('when a sender document has no roster (written before rosters, or a number first seen now), then one message reads patients and keeps the roster, and the next reads none', async function () {
    const { store, commands, dbName } = handle!;
    const senders = store.client.db(dbName).collection('optOuts');
    const clinicId = newClinicId();
    const phone = newPhone();
    const patient = aPatient({ clinicId, phone });
    await store.upsertPatients([patient]);
    await senders.updateOne({ clinicId, phone }, { $unset: { roster: '' } });
    const w = { key: 'w-roster', expiresAt: new Date() };

    commands!.reset();
    expect((await store.touchSender(clinicId, phone, w)).patients).to.deep.equal([patient]);
    expect(commands!.names).to.deep.equal(['findAndModify', 'find']);
    await store.settle();
    expect(Object.values((await senders.findOne({ clinicId, phone }))?.roster as object)).to.deep.equal([patient]);
    commands!.reset();
    expect((await store.touchSender(clinicId, phone, w)).patients).to.deep.equal([patient]);
    expect(commands!.names).to.deep.equal(['findAndModify']);

    const stranger = newPhone();
    expect((await store.touchSender(clinicId, stranger, w)).patients).to.deep.equal([]);
    await store.settle();
    commands!.reset();
    expect((await store.touchSender(clinicId, stranger, w)).patients).to.deep.equal([]);
    expect(commands!.names).to.deep.equal(['findAndModify']);
  });

  it('when a patient id holds dots, dollars or non-ASCII, then the roster still stores and returns it', async function () {
    const { store } = handle!;
    const clinicId = newClinicId();
    const phone = newPhone();
    const odd = [aPatient({ clinicId, phone, id: `${clinicId}.a$b.0` }), aPatient({ clinicId, phone, id: `${clinicId}-ñ-予約` })];
    await store.upsertPatients(odd);
    expect((await store.touchSender(clinicId, phone, { key: 'w-odd', expiresAt: new Date() })).patients).to.deep.equal(await store.findPatientsByPhone(clinicId, phone));
    expect((await store.findPatientsByPhone(clinicId, phone)).length).to.equal(2);
  });

  it('when the window moved on, then stale counters are dropped off the hot path and the count restarts', async function () {
    const { store, commands } = handle!;
    const clinicId = newClinicId();
    const phone = newPhone();
    await store.touchSender(clinicId, phone, { key: 'w1', expiresAt: new Date() });
    await store.settle(); // the new number's (empty) roster is stored in the background
    commands!.reset();
    expect(await store.touchSender(clinicId, phone, { key: 'w2', expiresAt: new Date() })).to.deep.equal({ count: 1, optedOut: false, patients: [] });
    // The answer came after one command; the clean-up follows in the background.
    expect(commands!.names[0]).to.equal('findAndModify');
    await store.settle();
    const raw = await store.client.db(handle!.dbName).collection('optOuts').findOne({ clinicId, phone });
    expect(raw?.rate).to.deep.equal({ w2: 1 });
  });
});

/**
 * A TCP relay to the test server that can be told to stop answering, like a database
 * that hangs: connections stay open, replies never come.
 */
async function startRelay(target: URL): Promise<{ port: number; hang(): void; close(): Promise<void> }> {
  let hanging = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (!hanging) {
        upstream.write(chunk);
      }
    });
    upstream.on('data', (chunk) => {
      if (!hanging) {
        client.write(chunk);
      }
    });
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hang: () => {
      hanging = true;
    },
    close: async () => {
      for (const s of sockets) {
        s.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('MongoStore when the database hangs mid-way', function () {
  it('when the server stops answering, then the next operation (a retried read) rejects with STORE_UNAVAILABLE within ~5 s', async function () {
    this.timeout(20000);
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    const target = new URL(server.uri.replace(/^mongodb:/, 'http:'));
    if (!/^mongodb:\/\/[^,/]+(\/|$)/.test(server.uri)) {
      this.skip(); // a replica set or SRV URI: one relay cannot stand in for it
    }
    const relay = await startRelay(target);
    const store = createMongoStore({ uri: `mongodb://127.0.0.1:${relay.port}/`, dbName: 't_hang' });
    try {
      await store.ping();
      relay.hang();
      const started = Date.now();
      const err = await store.getAppointment('a-1').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.have.property('code', 'STORE_UNAVAILABLE');
      expect(Date.now() - started).to.be.below(5500);
    } finally {
      await store.close();
      await relay.close();
    }
  });
});

describe('openBackend', function () {
  it('when no MongoDB URI is given, then the embedded backend is used', async function () {
    const backend = await openBackend({ mongodbUri: '  ' });
    expect(backend.kind).to.equal('memory');
    expect(backend.store.kind).to.equal('memory');
    await backend.store.close();
  });
});

describe('MongoStore when the database is down', function () {
  let closedPort: number;
  let listener: Server;

  before(async function () {
    // A port that was just free: bind, note it, close. Nothing listens there after.
    listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    closedPort = (listener.address() as AddressInfo).port;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });

  it('when the store points at a closed port, then it starts, ping() rejects with STORE_UNAVAILABLE within ~6 s, and the process lives on', async function () {
    this.timeout(15000);
    const backend = await openBackend({ mongodbUri: `mongodb://127.0.0.1:${closedPort}/down` });
    const { store } = backend;
    expect(backend.kind).to.equal('mongo');
    try {
      const started = Date.now();
      const err = await store.ping().then(
        () => null,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      expect(err).to.have.property('code', 'STORE_UNAVAILABLE');
      expect(elapsed).to.be.below(6000);
      await expect(store.init()).to.be.rejected.and.eventually.have.property('code', 'STORE_UNAVAILABLE');
      await expect(store.claimMessage(aMessage({ clinicId: 'c-down' }))).to.be.rejected.and.eventually.have.property('code', 'STORE_UNAVAILABLE');
    } finally {
      await store.close();
    }
  });

  it('when the URI is malformed, then the store refuses with CONFIG_INVALID and does not echo the URI', function () {
    expect(() => createMongoStore({ uri: 'mongodb://user:s3cret@/nohost' }))
      .to.throw()
      .that.satisfies((e: { code: string; message: string }) => e.code === 'CONFIG_INVALID' && !e.message.includes('s3cret'));
  });
});
