import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startService, type RunningService } from '../../src/main.js';
import { downtownWithEndpoint, newSecret } from '../support/event-builders.js';
import { eventually, startEventReceiver, type EventReceiver } from '../support/event-receiver.js';
import { FakeTwilioMedia } from '../support/fake-twilio-media.js';
import { PNG_BYTES, sidOf } from '../support/media-builders.js';
import { dropTestDb, freshDbName, getTestMongo, uriWithDb, type TestMongo } from '../support/mongo.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { AUTH_TOKEN, WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { ACCOUNT_SID, newMessageSid } from '../support/twilio-sign.js';

const DOWNTOWN = '+13125550100';
/** The loops' poll interval here: a lone `off` instance is watched for 20 of them. */
const POLL_MS = 25;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// BACKGROUND_JOBS=off on one instance, on on another, both on one MongoDB database (FerretDB
// here): the webhook's instance leaves its events and media in the database, and the instance
// that runs the jobs delivers and fetches them.
describe('BACKGROUND_JOBS across instances on one MongoDB database', function () {
  let mongo: TestMongo | null;
  let dbName: string;
  let dir: string;
  let receiver: EventReceiver;
  let fake: FakeTwilioMedia;
  const services: RunningService[] = [];
  const secret = newSecret();

  beforeEach(async function () {
    mongo = await getTestMongo();
    if (!mongo) {
      // No MongoDB server here (test/support/mongo.ts says so loudly): the only reason to skip.
      this.skip();
    }
    dbName = freshDbName('bgjobs');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-bgjobs-'));
    receiver = await startEventReceiver(secret);
    fake = new FakeTwilioMedia();
    await fake.start();
    fake.credentials.add(`${ACCOUNT_SID}:${AUTH_TOKEN}`);
    await fs.writeFile(path.join(dir, 'clinics.yaml'), downtownWithEndpoint(DOWNTOWN, receiver.url));
  });

  afterEach(async function () {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    await receiver?.close();
    await fake?.close();
    if (mongo && dbName) {
      await dropTestDb(mongo, dbName);
    }
    if (dir) {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  async function start(name: string, jobs: 'on' | 'off'): Promise<RunningService> {
    const service = await startService(
      fixtureServiceEnv({
        CLINICS_FILE: path.join(dir, 'clinics.yaml'),
        SPOOL_DIR: path.join(dir, `spool-${name}`),
        MONGODB_URI: uriWithDb(mongo!.uri, dbName),
        BACKGROUND_JOBS: jobs,
        DOWNTOWN_EVENTS_SECRET: secret,
        TWILIO_API_BASE_URL: fake.baseUrl,
      }),
      { events: { pollMs: POLL_MS }, media: { pollMs: POLL_MS } },
    );
    services.push(service);
    return service;
  }

  async function post(s: RunningService, params: Record<string, string>): Promise<void> {
    const { body, signature } = signedRequest(params);
    const res = await request(s.server).post(WEBHOOK_PATH).set('content-type', 'application/x-www-form-urlencoded').set('x-twilio-signature', signature).send(body);
    expect(res.status).to.equal(200);
  }

  /** A STOP from an unknown number (one `consent.opted_out` event) and a photo sent with HELP. */
  async function stopAndPhoto(s: RunningService): Promise<{ photoSid: string }> {
    await post(s, inboundParams({ From: uniquePhone(), To: DOWNTOWN, Body: 'STOP' }));
    const photoSid = newMessageSid('MM');
    const me = sidOf('ME');
    fake.media.set(me, { bytes: PNG_BYTES, contentType: 'image/png' });
    await post(s, inboundParams({ From: uniquePhone(), To: DOWNTOWN, Body: 'HELP', MessageSid: photoSid, NumMedia: '1', MediaUrl0: fake.mediaUrl(ACCOUNT_SID, photoSid, me), MediaContentType0: 'image/png' }));
    return { photoSid };
  }

  const attempts = async (s: RunningService): Promise<number> => (await s.events.metrics.attempts.get()).values.reduce((n, v) => n + v.value, 0);
  const stored = async (s: RunningService, sid: string): Promise<boolean> => (await s.media.store.listForMessages('downtown', [sid])).some((m) => m.state === 'stored');
  const details = async (s: RunningService): Promise<Record<string, unknown>> => ((await request(s.server).get('/readyz')).body as { details: Record<string, unknown> }).details;

  it('when the only instance has BACKGROUND_JOBS=off, then a STOP event and a photo stay in MongoDB undelivered and unfetched, until an instance with on joins and does both', async function () {
    const off = await start('off', 'off');
    const { photoSid } = await stopAndPhoto(off);
    await sleep(20 * POLL_MS);
    expect(receiver.received, 'no event delivered by an off instance').to.deep.equal([]);
    expect(fake.apiRequests, 'no media fetched by an off instance').to.deep.equal([]);
    expect(await off.media.store.listForMessages('downtown', [photoSid]), 'no media job made by an off instance').to.deep.equal([]);
    expect(await details(off)).to.include({ backgroundJobs: 'off' });
    expect(await off.metrics.registry.getSingleMetricAsString('sms_background_jobs')).to.match(/^sms_background_jobs 0$/m);
    expect(await off.metrics.registry.getSingleMetricAsString('sms_media_messages_waiting'), 'the waiting photo shows in the backlog gauge').to.match(/^sms_media_messages_waiting 1$/m);

    const on = await start('on', 'on');
    await eventually(() => receiver.received.length === 1 && receiver.rejected === 0, 5000, 'the event delivered by the on instance');
    expect(receiver.received[0]?.body.type).to.equal('consent.opted_out');
    await eventually(() => stored(on, photoSid), 5000, 'the photo stored by the on instance');
    for (const gauge of ['sms_media_messages_waiting', 'sms_media_jobs_waiting']) {
      expect(await off.metrics.registry.getSingleMetricAsString(gauge), `${gauge}, as every instance reads it`).to.match(new RegExp(`^${gauge} 0$`, 'm'));
    }
    expect(await attempts(off)).to.equal(0);
    expect(await attempts(on)).to.equal(1);
  });

  it('when the webhook reaches an instance with BACKGROUND_JOBS=off while another on the same database has on, then the other delivers its event and fetches its photo, and each /readyz says which it is', async function () {
    const off = await start('off', 'off');
    const on = await start('on', 'on');
    const { photoSid } = await stopAndPhoto(off);
    await eventually(() => receiver.received.length === 1, 5000, 'the event delivered');
    await eventually(() => stored(off, photoSid), 5000, 'the photo stored, as the off instance reads it');
    expect(await attempts(off), 'the off instance attempted nothing').to.equal(0);
    expect(await attempts(on)).to.equal(1);
    expect(await details(off)).to.include({ backgroundJobs: 'off' });
    expect(await details(on)).to.include({ backgroundJobs: 'on' });
    expect(await on.metrics.registry.getSingleMetricAsString('sms_background_jobs')).to.match(/^sms_background_jobs 1$/m);
  });
});
