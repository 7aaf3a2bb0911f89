import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { MessageRecord } from '../../src/domain.js';
import { createMongoStore } from '../../src/store/mongo/create-mongo-store.js';
import type { MongoStore } from '../../src/store/mongo/mongo-store.js';
import { newSecret } from '../support/event-builders.js';
import { eventually, startEventReceiver, type EventReceiver } from '../support/event-receiver.js';
import { sendRaw, type RawResponse } from '../support/http-client.js';
import { freshDbName, getTestMongo, uriWithDb, type TestMongo } from '../support/mongo.js';
import { AUTH_TOKEN, PUBLIC_BASE_URL, WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';
import { startServiceProcess, stopServiceProcess, type ServiceProcess } from '../support/service-process.js';

// docs/operations.md, "Instances": two or more stateless instances on one MongoDB. Three
// real service processes (`node --import tsx src/main.ts`, as startup.int.test.ts starts it)
// share one database; each has its own port, SPOOL_DIR and RULES_DIR copy. The request
// driver below spreads signed requests over them round-robin, as a load balancer would.

const DOWNTOWN = '+13125550100';
/** The clinics file below: downtown allows 5 messages a minute per sender. */
const LIMIT = 5;
const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const SYSTEM_ERROR = 'technical difficulties';


interface Instance extends ServiceProcess {
  spoolDir: string;
  rulesDir: string;
}

/** A free loopback port with nothing listening on it (the "database" of an instance cut off from it). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('scale-out: three service processes on one MongoDB database', function () {
  this.timeout(120_000);
  let server: TestMongo;
  let dbName: string;
  let store: MongoStore | undefined;
  let receiver: EventReceiver | undefined;
  let dir: string | undefined;
  const secret = newSecret();
  const running: Instance[] = [];
  let instances: Instance[] = [];

  const env = (spoolDir: string, rulesDir: string, mongodbUri: string): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    PUBLIC_BASE_URL,
    CLINICS_FILE: path.join(dir as string, 'clinics.yaml'),
    RULES_DIR: rulesDir,
    SEED_FILE: 'none',
    KEYS_FILE: path.join(dir as string, 'no-keys.yaml'),
    LOG_LEVEL: 'info',
    // Each instance reloads only on SIGHUP, so the test rolls the rules out one by one.
    WATCH_RULES: 'off',
    SHUTDOWN_GRACE_MS: '2000',
    SPOOL_DIR: spoolDir,
    MONGODB_URI: mongodbUri,
    DOWNTOWN_EVENTS_SECRET: secret,
  });

  /** Starts one instance and resolves when its start line gives the port. */
  async function startInstance(name: string, spoolDir: string, rulesDir: string, mongodbUri = uriWithDb(server.uri, dbName)): Promise<Instance> {
    const instance = { ...(await startServiceProcess(name, env(spoolDir, rulesDir, mongodbUri))), spoolDir, rulesDir };
    running.push(instance);
    return instance;
  }

  async function stopInstance(instance: Instance, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopServiceProcess(instance, signal);
    running.splice(running.indexOf(instance), 1);
  }

  /** One signed webhook request to one instance. */
  async function text(instance: Instance, params: Record<string, string>): Promise<RawResponse> {
    const { body, signature } = signedRequest(params);
    return sendRaw(instance.port, {
      method: 'POST',
      path: WEBHOOK_PATH,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body,
    });
  }

  /** The driver: the n-th request goes to instance n mod 3, one after the other. */
  async function roundRobin(messages: Record<string, string>[]): Promise<RawResponse[]> {
    const out: RawResponse[] = [];
    for (const [i, m] of messages.entries()) {
      out.push(await text(instances[i % instances.length] as Instance, m));
    }
    return out;
  }

  const readyz = async (instance: Instance): Promise<{ status: number; body: { status: string; degraded: string[]; details: Record<string, unknown> } }> => {
    const res = await sendRaw(instance.port, { method: 'GET', path: '/readyz' });
    return { status: res.status, body: JSON.parse(res.text) as { status: string; degraded: string[]; details: Record<string, unknown> } };
  };

  async function messagesFrom(phone: string): Promise<MessageRecord[]> {
    const out: MessageRecord[] = [];
    for await (const r of (store as MongoStore).listMessages({ clinicId: 'downtown', since: new Date(0), until: new Date(Date.now() + 3_600_000) })) {
      if (r.message.from === phone) {
        out.push(r);
      }
    }
    return out;
  }

  before(async function () {
    this.timeout(90_000);
    const found = await getTestMongo();
    if (!found) {
      this.skip();
    }
    server = found;
    dbName = freshDbName('scale_out');
    store = createMongoStore({ uri: server.uri, dbName });
    await store.init();
    receiver = await startEventReceiver(secret);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-scale-'));
    await fs.writeFile(
      path.join(dir, 'clinics.yaml'),
      `clinics:
  - id: downtown
    name: Downtown Family Clinic
    phoneNumbers: ["${DOWNTOWN}"]
    officePhone: "(312) 555-0199"
    timezone: America/Chicago
    languages: [en, es]
    rateLimitPerMinute: ${LIMIT}
    events:
      - url: ${receiver.url}
        secretEnv: DOWNTOWN_EVENTS_SECRET
`,
    );
    const root = dir;
    instances = await Promise.all(
      ['A', 'B', 'C'].map(async (name) => {
        const rulesDir = path.join(root, `rules-${name}`);
        await fs.cp(FIXTURE_RULES_DIR, rulesDir, { recursive: true });
        return startInstance(name, path.join(root, `spool-${name}`), rulesDir);
      }),
    );
    // Every instance reaches the database before the load starts.
    await eventually(async () => (await Promise.all(instances.map(readyz))).every((r) => r.body.details.store === 'ok'), 30_000, 'three instances on the database');
  });

  after(async () => {
    await Promise.all([...running].map((i) => stopInstance(i)));
    await receiver?.close();
    if (store) {
      await store.client.db(dbName).dropDatabase().catch(() => undefined);
      await store.close();
    }
    if (dir) {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when one MessageSid reaches all three instances at once, then there is one record, one set of actions and one answer', async () => {
    const phone = uniquePhone();
    const patient = await addPatient(store as MongoStore, { phone }, [{ startsAt: new Date(Date.now() + 3 * 86_400_000) }]);
    const params = inboundParams({ From: phone, To: DOWNTOWN, Body: 'CONFIRM' });
    const replies = await Promise.all(instances.map((i) => text(i, params)));

    expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200]);
    expect(new Set(replies.map((r) => r.text)).size, replies.map((r) => r.text).join('\n')).to.equal(1);
    expect(replies[0]?.text).to.match(/<Message>.*confirmed/i);
    const records = await messagesFrom(phone);
    expect(records).to.have.length(1);
    expect(records[0]).to.deep.include({ status: 'processed', duplicateDeliveries: 2 });
    expect(records[0]?.actions.map((a) => a.type)).to.deep.equal(['confirm-appointment']);
    expect(records[0]?.outbox?.map((e) => e.type)).to.deep.equal(['appointment.confirmed']);
    const appointments = await (store as MongoStore).client.db(dbName).collection('appointments').find({ patientId: patient.id }).toArray();
    expect(appointments.map((a) => (a.status as { name: string }).name)).to.deep.equal(['confirmed']);
  });

  it('when one sender texts round-robin over the instances, then the per-minute limit holds across them', async () => {
    // The limit counts per clock minute: start early in one, so the run does not straddle two.
    const second = new Date().getUTCSeconds();
    if (second > 45) {
      await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
    }
    const phone = uniquePhone();
    await addPatient(store as MongoStore, { phone });
    const replies = await roundRobin(Array.from({ length: LIMIT + 4 }, (_, i) => inboundParams({ From: phone, To: DOWNTOWN, Body: `question ${i}` })));

    expect(replies.map((r) => r.status)).to.deep.equal(Array(LIMIT + 4).fill(200));
    expect(replies.slice(0, LIMIT).every((r) => r.text.includes('<Message>'))).to.equal(true);
    expect(replies.slice(LIMIT).map((r) => r.text)).to.deep.equal(Array(4).fill(EMPTY));
    const statuses = (await messagesFrom(phone)).map((r) => r.status);
    expect(statuses.filter((s) => s === 'processed')).to.have.length(LIMIT);
    expect(statuses.filter((s) => s === 'rate-limited')).to.have.length(4);
  });

  it('when a patient texts STOP to one instance, then the others honour it: no reply until START, which a third one takes', async () => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const phone = uniquePhone();
    await addPatient(store as MongoStore, { phone });

    const stop = await text(a, inboundParams({ From: phone, To: DOWNTOWN, Body: 'STOP' }));
    const after = await text(b, inboundParams({ From: phone, To: DOWNTOWN, Body: 'are you still there?' }));
    const start = await text(c, inboundParams({ From: phone, To: DOWNTOWN, Body: 'START' }));
    const again = await text(b, inboundParams({ From: phone, To: DOWNTOWN, Body: 'HOURS' }));

    expect(stop.text).to.contain('You are unsubscribed');
    expect(after.status).to.equal(200);
    expect(after.text).to.equal(EMPTY);
    expect(start.text).to.contain('subscribed to appointment texts again');
    expect(again.text).to.include('<Message>');
    expect((await messagesFrom(phone)).map((r) => r.status)).to.deep.equal(['processed', 'processed', 'processed', 'processed']);
    expect(await (store as MongoStore).getOptOut('downtown', phone)).to.include({ optedOut: false });
  });

  it('when an instance cut off from the database answers messages and is killed with SIGKILL, then after a restart on the same spool every answered message is in `messages`', async () => {
    const root = dir as string;
    const spoolDir = path.join(root, 'spool-D');
    const cutOff = await startInstance('D', spoolDir, path.join(root, 'rules-A'), `mongodb://127.0.0.1:${await deadPort()}/${dbName}`);
    const ready = await readyz(cutOff);
    // It keeps every message on disk, so a load balancer keeps it in.
    expect(ready.status).to.equal(200);
    const phones = Array.from({ length: 6 }, () => uniquePhone());
    const sent = phones.map((phone, i) => inboundParams({ From: phone, To: DOWNTOWN, Body: i % 2 === 0 ? 'STOP' : 'hello?' }));
    const replies = await Promise.all(sent.map((m) => text(cutOff, m)));
    expect(replies.map((r) => r.status)).to.deep.equal(Array(6).fill(200));
    // A spooled STOP gets its normal confirmation (the spool makes it certain); the others the system-error text.
    expect(
      replies.every((r, i) => (i % 2 === 0 ? r.text.includes('You are unsubscribed') : r.text.includes(SYSTEM_ERROR))),
      replies.map((r) => r.text).join('\n'),
    ).to.equal(true);
    await eventually(async () => (await readyz(cutOff)).body.details.spoolDepth === 6, 10_000, 'six spooled messages');

    await stopInstance(cutOff, 'SIGKILL');
    for (const m of sent) {
      expect(await (store as MongoStore).getMessage(m.MessageSid as string)).to.equal(null);
    }
    const restarted = await startInstance('D again', spoolDir, path.join(root, 'rules-A'));
    await eventually(async () => (await Promise.all(sent.map((m) => (store as MongoStore).getMessage(m.MessageSid as string)))).every((r) => r !== null), 30_000, 'the replay');
    // An entry leaves the spool once its record is finished (senders replay side by side, so
    // a record may exist while another sender's replay is still running).
    await eventually(async () => (await readyz(restarted)).body.details.spoolDepth === 0, 10_000, 'an empty spool');
    const records = await Promise.all(sent.map((m) => (store as MongoStore).getMessage(m.MessageSid as string)));
    expect(records.map((r) => r?.message.from)).to.deep.equal(phones);
    // The STOPs were honoured on replay, as they would have been live.
    for (const [i, phone] of phones.entries()) {
      expect((await (store as MongoStore).getOptOut('downtown', phone))?.optedOut ?? false).to.equal(i % 2 === 0);
    }
    await stopInstance(restarted);
  });

  it('when the rules are rolled out to one instance at a time, then /readyz shows two rules_loaded_version values during the rollout and one after', async () => {
    const versions = async (): Promise<string[]> => Promise.all(instances.map(async (i) => String((await readyz(i)).body.details.rules_loaded_version)));
    const before = await versions();
    expect(new Set(before).size).to.equal(1);

    const seen: string[][] = [];
    for (const instance of instances) {
      const file = path.join(instance.rulesDir, 'clinics', 'downtown.yaml');
      // A new keyword variant: a real change of the rules, so the version (a digest) moves.
      const edited = (await fs.readFile(file, 'utf8')).replace('en: [HOURS, OPEN]', 'en: [HOURS, OPEN, OPENING TIMES]');
      expect(edited).to.include('OPENING TIMES');
      await fs.writeFile(file, edited);
      instance.child.kill('SIGHUP');
      await eventually(async () => String((await readyz(instance)).body.details.rules_loaded_version) !== before[0], 10_000, `${instance.name} on the new rules`);
      seen.push(await versions());
    }

    const [newVersion] = seen[2] as string[];
    expect(newVersion).to.not.equal(before[0]);
    expect(seen).to.deep.equal([
      [newVersion, before[0], before[0]],
      [newVersion, newVersion, before[0]],
      [newVersion, newVersion, newVersion],
    ]);
  });

  it('when the instances produced events (confirmations, opt-outs, routed messages, the replay), then the one endpoint gets each once, across the instances', async () => {
    let produced = 0;
    const sids: string[] = [];
    for await (const r of (store as MongoStore).listMessages({ clinicId: 'downtown', since: new Date(0), until: new Date(Date.now() + 3_600_000) })) {
      produced += r.outbox?.length ?? 0;
      if ((r.outbox?.length ?? 0) > 0) {
        sids.push(r.messageSid);
      }
    }
    expect(produced).to.be.at.least(8);
    const rx = receiver as EventReceiver;
    await eventually(() => new Set(rx.received.map((r) => r.id)).size >= produced, 30_000, `${produced} events`);
    // Two more poll rounds of every instance: a second delivery would show up now.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const ids = rx.received.map((r) => r.id);
    expect(rx.rejected).to.equal(0);
    expect(new Set(ids).size).to.equal(produced);
    expect(ids).to.have.length(produced);
    const deliveredSids = new Set(rx.received.map((r) => String(r.body.data.messageSid)));
    expect(sids.every((sid) => deliveredSids.has(sid))).to.equal(true);
  });
});
