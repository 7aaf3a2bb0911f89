import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runCli } from '../../src/cli/index.js';
import type { CliIO } from '../../src/cli/io.js';
import { endpointId } from '../../src/config/event-endpoints.js';
import { MongoEventOutboxStore } from '../../src/events/mongo-outbox-store.js';
import { aDelivery, anEndpoint, newSecret } from '../support/event-builders.js';
import { startEventReceiver } from '../support/event-receiver.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../support/mongo.js';

function capture(env: Record<string, string>, cwd = process.cwd()): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, cwd, stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('clinic-sms events (command line)', function () {
  let handle: TestMongoStore | undefined;

  afterEach(async function () {
    await handle?.dispose();
    handle = undefined;
  });

  it('when MONGODB_URI is not set, then list explains why it needs it and exits 2', async function () {
    const io = capture({});
    expect(await runCli(['events', 'list', '--clinic', 'downtown'], io)).to.equal(2);
    expect(io.stderr.join('\n')).to.match(/MONGODB_URI is not set/);
  });

  it('when deliveries are stored, then list shows them by status, and replay --failed queues the failed ones again and re-enables the endpoint', async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'events_cli' });
    const store = new MongoEventOutboxStore(handle.store.database);
    await store.init();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-events-cli-'));
    const url = 'https://pms.example.test/hooks/sms';
    const clinicsFile = path.join(dir, 'clinics.yaml');
    await fs.writeFile(clinicsFile, `clinics:\n  - id: downtown\n    name: D\n    phoneNumbers: ["+13125550100"]\n    timezone: America/Chicago\n    events:\n      - url: ${url}\n        secretEnv: S\n`);
    const endpoint = anEndpoint({ clinicId: 'downtown', url });
    expect(endpoint.id).to.equal(endpointId('downtown', url));
    const ok = aDelivery({ clinicId: 'downtown' }, endpoint);
    const gone = aDelivery({ clinicId: 'downtown', type: 'consent.opted_out' }, endpoint);
    await store.addJobs([ok, gone]);
    await store.disableEndpoint(endpoint.id, new Date(), 'endpoint disabled (410 Gone)');
    try {
      const env = { MONGODB_URI: handle.uri, CLINICS_FILE: clinicsFile };
      const listed = capture(env);
      expect(await runCli(['events', 'list', '--clinic', 'downtown', '--status', 'failed', '--type', 'consent.opted_out'], listed)).to.equal(0);
      expect(listed.stdout).to.have.length(1);
      expect(listed.stdout[0]).to.include(gone.eventId).and.include('failed').and.include('pms.example.test');
      const replayed = capture(env);
      expect(await runCli(['events', 'replay', '--failed', '--clinic', 'downtown'], replayed)).to.equal(0);
      expect(replayed.stdout[0]).to.match(/^2 failed delivery\(ies\) of clinic downtown queued again; 1 endpoint\(s\) enabled/);
      expect((await store.disabledEndpoints()).size).to.equal(0);
      expect((await store.list({ clinicId: 'downtown', status: 'pending' })).length).to.equal(2);
      const one = capture(env);
      expect(await runCli(['events', 'replay', ok.eventId], one)).to.equal(0);
      expect(await runCli(['events', 'replay', 'evt_nothing'], capture(env))).to.equal(1);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('when send-test runs, then every endpoint of the clinic gets a signed ping that verifies, and each answer is printed', async function () {
    const secret = newSecret();
    const receiver = await startEventReceiver(secret);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-events-cli-'));
    try {
      const clinicsFile = path.join(dir, 'clinics.yaml');
      await fs.writeFile(clinicsFile, `clinics:\n  - id: downtown\n    name: D\n    phoneNumbers: ["+13125550100"]\n    timezone: America/Chicago\n    events:\n      - url: ${receiver.url}\n        secretEnv: S\n`);
      const io = capture({ CLINICS_FILE: clinicsFile, S: secret });
      expect(await runCli(['events', 'send-test', '--clinic', 'downtown'], io)).to.equal(0);
      expect(io.stdout).to.deep.equal([`${receiver.url}  HTTP 200  ok`]);
      expect(receiver.received.map((r) => r.body.type)).to.deep.equal(['ping']);
      expect(receiver.rejected).to.equal(0);
    } finally {
      await receiver.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
