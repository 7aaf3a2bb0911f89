import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Clinic, MessageRecord } from '../../src/domain.js';
import { createLogger } from '../../src/logger.js';
import { MediaService } from '../../src/media/media-service.js';
import type { MediaRecord, MediaStore } from '../../src/media/media-store.js';
import { aMessage, newClinicId } from '../contract/store-fixtures.js';
import { FakeTwilioMedia } from '../support/fake-twilio-media.js';
import { exeBytes, PDF_BYTES, PNG_BYTES, sidOf } from '../support/media-builders.js';
import { mediaKinds, type MediaStores } from '../support/media-kinds.js';

const TOKEN = 'media-test-token';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

for (const kind of mediaKinds('media_jobs')) {
  describe(`media jobs on the ${kind.name}`, function () {
    let stores: MediaStores;
    let fake: FakeTwilioMedia;
    let clinic: Clinic;
    let accountSid: string;
    const services: MediaService[] = [];

    beforeEach(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      stores = made;
      fake = new FakeTwilioMedia();
      await fake.start();
      accountSid = sidOf('AC');
      fake.credentials.add(`${accountSid}:${TOKEN}`);
      clinic = { id: newClinicId(), name: 'Media Clinic', phoneNumbers: ['+13125550100'], timezone: 'America/Chicago', languages: ['en'], defaultRegion: 'US', rateLimitPerMinute: 10, autoReply: true, accountSid };
    });

    afterEach(async function () {
      await Promise.all(services.splice(0).map((s) => s.stop()));
      await fake?.close();
      await stores?.dispose();
    });

    /** A media service as main.ts makes one, with short polls and retries. */
    function service(media: MediaStore = stores.media, options: { leaseMs?: number; timeoutMs?: number; env?: Record<string, string> } = {}): MediaService {
      const s = new MediaService({
        store: stores.store,
        media,
        clinic: (id) => (id === clinic.id ? clinic : undefined),
        policy: { production: false, apiBaseUrl: fake.baseUrl },
        env: options.env ?? {},
        defaultToken: TOKEN,
        logger: createLogger('silent'),
        pollMs: 20,
        worker: { retryDelaysMs: [40, 40, 40], timeoutMs: options.timeoutMs ?? 2000, leaseMs: options.leaseMs ?? 3000 },
      });
      services.push(s);
      s.start();
      return s;
    }

    /** Claims a message carrying these media, as the webhook does (mediaPending rides in the claim). */
    async function claimWith(media: { url: string; contentType: string }[], messageSid = sidOf('MM')): Promise<MessageRecord> {
      const record = aMessage({ clinicId: clinic.id, messageSid, mediaPending: true });
      record.message.accountSid = accountSid;
      record.message.media = media;
      record.message.numMedia = media.length;
      await stores.store.claimMessage(record);
      return record;
    }

    /** Serves `bytes` as media ME… of the message and returns its URL. */
    function serve(messageSid: string, bytes: Buffer, contentType: string, extra: { notFoundTimes?: number; chunked?: boolean; hangTimes?: number } = {}): { url: string; contentType: string; mediaSid: string } {
      const mediaSid = sidOf('ME');
      fake.media.set(mediaSid, { bytes, contentType, ...extra });
      return { url: fake.mediaUrl(accountSid, messageSid, mediaSid), contentType, mediaSid };
    }

    /** Waits until no record of the message is pending (or has work left when `untilIdle`). */
    async function settled(messageSid: string, count: number, untilIdle = false, timeoutMs = 8000): Promise<MediaRecord[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const records = await stores.media.listForMessages(clinic.id, [messageSid]);
        if (records.length === count && records.every((r) => (untilIdle ? r.work === 'none' : r.state !== 'pending'))) {
          return records;
        }
        if (Date.now() > deadline) {
          throw new Error(`media not settled: ${JSON.stringify(records.map((r) => [r.state, r.work, r.lastError]))}`);
        }
        await sleep(20);
      }
    }

    it('when a message carries an image and a PDF, then both are fetched with Basic auth, the CDN hop gets no credentials, and the bytes are kept with their sha256 and detected type', async function () {
      const sid = sidOf('MM');
      const png = serve(sid, PNG_BYTES, 'image/png');
      const pdf = serve(sid, PDF_BYTES, 'application/pdf');
      await claimWith([png, pdf], sid);
      const s = service();
      s.notify();
      const records = await settled(sid, 2);
      expect(records.map((r) => [r.state, r.file?.contentType, r.file?.size])).to.deep.equal([
        ['stored', 'image/png', PNG_BYTES.length],
        ['stored', 'application/pdf', PDF_BYTES.length],
      ]);
      for (const [r, bytes] of [[records[0], PNG_BYTES], [records[1], PDF_BYTES]] as const) {
        expect(r?.file?.sha256).to.equal(createHash('sha256').update(bytes).digest('hex'));
        expect(await readAll((await stores.media.openFile(r?.file?.fileId ?? ''))!)).to.deep.equal(bytes);
      }
      expect(fake.cdnSends.map((c) => c.authorization), 'credentials never leave for the CDN').to.deep.equal([false, false]);
      expect(fake.apiRequests.every((r) => r.status === 307)).to.equal(true);
      expect((await stores.store.pendingMedia(100)).map((m) => m.messageSid)).to.not.include(sid);
      const views = await s.mediaForMessages(clinic.id, [sid]);
      expect(views.get(sid)?.map((v) => [v.state, v.contentType, v.href])).to.deep.equal([
        ['stored', 'image/png', `/v1/clinics/${clinic.id}/media/${sid}-0`],
        ['stored', 'application/pdf', `/v1/clinics/${clinic.id}/media/${sid}-1`],
      ]);
    });

    it('when the credentials are wrong, then every attempt gets 401, nothing is kept, and the item ends failed with the reason', async function () {
      fake.credentials.clear();
      fake.credentials.add(`${accountSid}:another-token`);
      const sid = sidOf('MM');
      await claimWith([serve(sid, PNG_BYTES, 'image/png')], sid);
      service().notify();
      const [r] = await settled(sid, 1);
      expect(r).to.include({ state: 'failed', reason: 'HTTP 401', attempts: 4 });
      expect(r?.file).to.equal(undefined);
      expect(fake.cdnSends).to.deep.equal([]);
      expect(fake.apiRequests.map((a) => a.status)).to.deep.equal([401, 401, 401, 401]);
    });

    it('when Twilio answers 404 right after delivery and then the file, then the job retries and keeps it', async function () {
      const sid = sidOf('MM');
      await claimWith([serve(sid, PNG_BYTES, 'image/png', { notFoundTimes: 2 })], sid);
      service().notify();
      const [r] = await settled(sid, 1);
      expect(r).to.include({ state: 'stored', attempts: 3 });
      expect(fake.apiRequests.map((a) => a.status)).to.deep.equal([404, 404, 307]);
    });

    it('when the file is a 6 MB stream, then it is refused as too large and the connection is closed before the server sent it all', async function () {
      const sid = sidOf('MM');
      const big = Buffer.alloc(6 * 1024 * 1024, 0xff);
      PNG_BYTES.copy(big);
      await claimWith([serve(sid, big, 'image/png', { chunked: true })], sid);
      // A paced 6 MB stream takes about a second; a loaded machine must not turn it into a timeout.
      service(stores.media, { timeoutMs: 15_000, leaseMs: 20_000 }).notify();
      const [r] = await settled(sid, 1, false, 20_000);
      expect(r).to.include({ state: 'refused', reason: `larger than ${5 * 1024 * 1024} bytes`, attempts: 1 });
      expect(r?.file).to.equal(undefined);
      await sleep(50);
      expect(fake.cdnSends).to.have.length(1);
      const [send] = fake.cdnSends;
      expect(send?.closedEarly).to.equal(true);
      expect(send?.sent).to.be.below(big.length);
      expect(send?.sent).to.be.above(5 * 1024 * 1024 - 1);
    });

    it('when a Windows executable is served as image/jpeg, then it is refused by its real type and not kept', async function () {
      const sid = sidOf('MM');
      await claimWith([serve(sid, exeBytes(), 'image/jpeg')], sid);
      service().notify();
      const [r] = await settled(sid, 1);
      expect(r?.state).to.equal('refused');
      expect(r?.reason).to.equal('type application/x-msdownload not allowed (declared image/jpeg)');
      expect(r?.file).to.equal(undefined);
    });

    it('when MediaUrlN is file:, javascript:, an internal IP, another host or not a media path, then each is refused and nothing is fetched', async function () {
      const sid = sidOf('MM');
      const me = sidOf('ME');
      const path = `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media/${me}`;
      const urls = [
        'file:///etc/passwd',
        'javascript:alert(1)',
        `http://169.254.169.254${path}`,
        `https://10.0.0.1${path}`,
        `https://evil.example.com${path}`,
        `https://api.twilio.com.evil.example.com${path}`,
        `http://api.twilio.com${path}`,
        `${fake.baseUrl}/cdn/${me}`,
        fake.mediaUrl(accountSid, sidOf('MM'), me),
        fake.mediaUrl(sidOf('AC'), sid, me),
      ];
      await claimWith(urls.map((url) => ({ url, contentType: 'image/jpeg' })), sid);
      service().notify();
      const records = await settled(sid, urls.length);
      expect(records.map((r) => r.state)).to.deep.equal(urls.map(() => 'refused'));
      expect(records.map((r) => r.reason)).to.deep.equal([
        'scheme file: not allowed (https only)',
        'scheme javascript: not allowed (https only)',
        'scheme http: not allowed (https only)',
        "host is not Twilio's API (api.twilio.com or api.<region>.twilio.com)",
        "host is not Twilio's API (api.twilio.com or api.<region>.twilio.com)",
        "host is not Twilio's API (api.twilio.com or api.<region>.twilio.com)",
        'scheme http: not allowed (https only)',
        'path is not /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…',
        'URL names another message',
        'URL names another account',
      ]);
      expect(fake.apiRequests).to.deep.equal([]);
      expect(fake.cdnSends).to.deep.equal([]);
    });

    it('when the clinic sets deleteMediaFromTwilio, then Twilio\'s copy is deleted through the Media API after ours is kept with its sha256', async function () {
      clinic = { ...clinic, deleteMediaFromTwilio: true };
      const sid = sidOf('MM');
      const png = serve(sid, PNG_BYTES, 'image/png');
      await claimWith([png], sid);
      service().notify();
      const [r] = await settled(sid, 1, true);
      expect(r?.state).to.equal('stored');
      expect(r?.twilioDeletedAt).to.be.instanceOf(Date);
      expect(r?.file?.sha256).to.equal(createHash('sha256').update(PNG_BYTES).digest('hex'));
      expect(fake.deleted).to.deep.equal([png.mediaSid]);
      expect(fake.apiRequests.map((a) => `${a.method} ${a.status}`)).to.deep.equal(['GET 307', 'DELETE 204']);
      expect(fake.apiRequests[1]?.path).to.equal(`${new URL(png.url).pathname}.json`);
      expect(await readAll((await stores.media.openFile(r?.file?.fileId ?? ''))!)).to.deep.equal(PNG_BYTES);
    });

    it('when the clinic does not set deleteMediaFromTwilio, then Twilio\'s copy stays', async function () {
      const sid = sidOf('MM');
      await claimWith([serve(sid, PNG_BYTES, 'image/png')], sid);
      service().notify();
      const [r] = await settled(sid, 1, true);
      expect(r?.state).to.equal('stored');
      expect(r?.twilioDeletedAt).to.equal(undefined);
      expect(fake.deleted).to.deep.equal([]);
    });

    it('when the worker dies mid-download, then after its lease runs out a restarted instance takes the job and keeps the file', async function () {
      const sid = sidOf('MM');
      await claimWith([serve(sid, PNG_BYTES, 'image/png', { hangTimes: 1 })], sid);
      const first = service(stores.media, { leaseMs: 1500, timeoutMs: 1000 });
      first.notify();
      const deadline = Date.now() + 3000;
      while (fake.apiRequests.length === 0 && Date.now() < deadline) {
        await sleep(10);
      }
      await sleep(50);
      await first.kill();
      const killedAt = Date.now();
      expect((await stores.media.listForMessages(clinic.id, [sid]))[0]).to.include({ state: 'pending', attempts: 0 });
      // A new process: a MediaStore opened afresh on the same data.
      const second = service(stores.reopen(), { leaseMs: 1500, timeoutMs: 1000 });
      second.notify();
      const [r] = await settled(sid, 1);
      expect(r).to.include({ state: 'stored', attempts: 1 });
      expect(Date.now() - killedAt, 'taken only once the lease ran out').to.be.above(900);
      expect(fake.apiRequests.map((a) => a.status)).to.deep.equal([307, 307]);
    });
  });
}
