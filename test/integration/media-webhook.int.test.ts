import { expect } from 'chai';
import type { AccessLogStore } from '../../src/auth/access-log.js';
import { createApiKey } from '../../src/auth/api-key.js';
import request from 'supertest';
import { loadTestConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { MEDIA_ROUTE } from '../../src/media/media-routes.js';
import { MediaService } from '../../src/media/media-service.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { FakeTwilioMedia } from '../support/fake-twilio-media.js';
import { exeBytes, PDF_BYTES, PNG_BYTES, sidOf } from '../support/media-builders.js';
import { mediaKinds, type MediaStores } from '../support/media-kinds.js';
import { getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { AUTH_TOKEN, closingTestApps, inboundParams, signedRequest, WEBHOOK_PATH, type TestApp } from '../support/test-app.js';
import { ACCOUNT_SID, newMessageSid } from '../support/twilio-sign.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';
import { newId } from '../../src/conversations/conversation-service.js';
import { MemoryConversationStore } from '../../src/conversations/memory-conversation-store.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Media params as Twilio posts them. */
function mediaParams(items: { url: string; contentType: string }[]): Record<string, string> {
  const out: Record<string, string> = { NumMedia: String(items.length) };
  items.forEach((m, i) => {
    out[`MediaUrl${i}`] = m.url;
    out[`MediaContentType${i}`] = m.contentType;
  });
  return out;
}

for (const kind of mediaKinds('media_webhook')) {
  describe(`media through the webhook and the staff route on the ${kind.name}`, function () {
    const buildTestApp = closingTestApps();
    let stores: MediaStores;
    let fake: FakeTwilioMedia;
    let t: TestApp;
    let service: MediaService;
    let accessLog: AccessLogStore;
    const readKey = createApiKey({ id: 'k-read', clinicId: 'downtown', name: 'front desk', scopes: ['conversations:read'] }, new Date());
    const writeKey = createApiKey({ id: 'k-write', clinicId: 'downtown', name: 'bot', scopes: ['conversations:write'] }, new Date());

    beforeEach(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      stores = made;
      fake = new FakeTwilioMedia();
      await fake.start();
      fake.credentials.add(`${ACCOUNT_SID}:${AUTH_TOKEN}`);
      // The media route as buildService mounts it, behind the staff guard, on this kind's media store.
      t = await buildTestApp({ store: stores.store, mediaStore: stores.media });
      accessLog = t.service.staffStores.accessLog;
      t.service.ring.swap([readKey.entry, writeKey.entry]);
      service = new MediaService({
        store: stores.store,
        media: stores.media,
        clinic: (id) => t.live.snapshot().clinics.byId.get(id),
        policy: { production: false, apiBaseUrl: fake.baseUrl },
        env: {},
        defaultToken: AUTH_TOKEN,
        logger: createLogger('silent'),
        pollMs: 20,
        worker: { retryDelaysMs: [30], timeoutMs: 2000 },
      });
      service.start();
    });

    afterEach(async function () {
      await service?.stop();
      await fake?.close();
      await stores?.dispose();
    });

    async function settle(sid: string, n: number): Promise<void> {
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline) {
        const records = await stores.media.listForMessages('downtown', [sid]);
        if (records.length === n && records.every((r) => r.state !== 'pending')) {
          return;
        }
        await sleep(20);
      }
      throw new Error('media not settled');
    }

    it('when a signed MMS carries a photo, a PDF and an executable, then the reply is the plain one, and staff get the photo inline, the PDF as an attachment and the executable refused', async function () {
      const sid = newMessageSid('MM');
      const serve = (bytes: Buffer, type: string): { url: string; contentType: string } => {
        const me = sidOf('ME');
        fake.media.set(me, { bytes, contentType: type });
        return { url: fake.mediaUrl(ACCOUNT_SID, sid, me), contentType: type };
      };
      const items = [serve(PNG_BYTES, 'image/png'), serve(PDF_BYTES, 'application/pdf'), serve(exeBytes(), 'image/jpeg')];
      const plain = inboundParams({ Body: 'HELP' });
      const withMedia = inboundParams({ Body: 'HELP', MessageSid: sid, ...mediaParams(items) });
      const send = async (params: Record<string, string>): Promise<request.Response> => {
        const { body, signature } = signedRequest(params);
        return request(t.app.callback()).post(WEBHOOK_PATH).set('Content-Type', 'application/x-www-form-urlencoded').set('X-Twilio-Signature', signature).send(body);
      };
      const [a, b] = [await send(plain), await send(withMedia)];
      expect(b.status).to.equal(200);
      expect(b.text, 'the reply does not change with media').to.equal(a.text);
      expect(fake.apiRequests.length, 'nothing fetched inside the request').to.be.at.most(3);
      service.notify();
      await settle(sid, 3);

      const views = (await service.mediaForMessages('downtown', [sid])).get(sid) ?? [];
      expect(views.map((v) => [v.state, v.contentType ?? v.reason])).to.deep.equal([
        ['stored', 'image/png'],
        ['stored', 'application/pdf'],
        ['refused', 'type application/x-msdownload not allowed (declared image/jpeg)'],
      ]);
      const conversationId = newId('cv');
      await t.conversations.recordRouted({ clinicId: 'downtown', phone: withMedia.From as string, clinicNumber: withMedia.To as string, messageSid: sid, at: new Date(), body: 'HELP', patients: [] }, conversationId);
      const api = request(t.app.callback());
      const photo = await api.get(views[0]?.href ?? '').set('Authorization', `Bearer ${readKey.key}`).buffer(true).parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      expect(photo.status).to.equal(200);
      expect(photo.body).to.deep.equal(PNG_BYTES);
      expect(photo.headers).to.include({
        'content-type': 'image/png',
        'x-content-type-options': 'nosniff',
        'content-security-policy': 'sandbox',
        'cache-control': 'private, no-store',
        'content-disposition': `inline; filename="${sid}-0"`,
      });
      const pdf = await api.get(views[1]?.href ?? '').set('Authorization', `Bearer ${readKey.key}`);
      expect(pdf.status).to.equal(200);
      expect(pdf.headers).to.include({ 'content-type': 'application/pdf', 'content-disposition': `attachment; filename="${sid}-1"` });
      expect((await api.get(`/v1/clinics/downtown/media/${sid}-2`).set('Authorization', `Bearer ${readKey.key}`)).status, 'refused: nothing to serve').to.equal(404);
      const unauthenticated = await api.get(views[0]?.href ?? '');
      expect(unauthenticated.status).to.equal(401);
      expect(unauthenticated.headers, 'a refusal carries the API headers too').to.include({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
      expect(photo.headers, 'and a served file its own').to.include({ 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
      expect((await api.get(views[0]?.href ?? '').set('Authorization', `Bearer ${writeKey.key}`)).status).to.equal(403);
      expect((await api.get(`/v1/clinics/northside/media/${sid}-0`).set('Authorization', `Bearer ${readKey.key}`)).status, "another clinic's media").to.equal(404);
      expect((await api.get(`/v1/clinics/downtown/media/..%2F..%2Fetc`).set('Authorization', `Bearer ${readKey.key}`)).status).to.equal(404);
      const trail = [];
      for await (const r of accessLog.list({ since: new Date(0), until: new Date(Date.now() + 60_000) })) {
        trail.push([r.keyId, r.status, r.route]);
      }
      const served = [];
      for await (const r of accessLog.list({ since: new Date(0), until: new Date(Date.now() + 60_000) })) {
        if (r.status === 200) {
          served.push([r.mediaId, r.conversationId]);
        }
      }
      expect(served, 'a media read names the media and the conversation').to.deep.equal([
        [`${sid}-0`, conversationId],
        [`${sid}-1`, conversationId],
      ]);
      expect(trail).to.deep.equal(
        [['k-read', 200], ['k-read', 200], ['k-read', 404], [null, 401], ['k-write', 403], ['k-read', 404], ['k-read', 404]].map((row) => [...row, MEDIA_ROUTE]),
      );

      const links = (await service.linksFor('downtown', [(await stores.store.getMessage(sid))!])).get(sid);
      expect(links?.map((l) => [l.state, l.contentType, l.reason ?? null])).to.deep.equal([
        ['stored', 'image/png', null],
        ['stored', 'application/pdf', null],
        ['refused', 'image/jpeg', 'type application/x-msdownload not allowed (declared image/jpeg)'],
      ]);
    });
  });
}

describe('media on the webhook\'s path (MongoDB)', function () {
  it('when a message carries 10 media, then the pipeline costs the same database commands as the same text without them: the job list rides in the claim', async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    const handle = await openTestMongoStore(server, { label: 'media_path', monitor: true });
    try {
      const config = loadTestConfig({ authTokens: [AUTH_TOKEN], clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: FIXTURE_RULES_DIR });
      const snapshot = await buildSnapshot(config, { NORTHSIDE_AUTH_TOKEN: 'x' });
      const deps = { store: handle.store, staff: conversationRouting(new MemoryConversationStore(handle.store)), logger: createLogger('silent'), metrics: createMetrics(), clock: () => new Date() };
      const run = async (media: { url: string; contentType: string }[], sid: string): Promise<string[]> => {
        handle.commands!.reset();
        await handleMessage(deps, snapshot, { messageSid: sid, accountSid: ACCOUNT_SID, from: '+13125550134', to: '+13125550100', body: 'hello, see attached', numMedia: media.length, media, extra: {} });
        const names = [...handle.commands!.names];
        await handle.store.settle();
        return names;
      };
      await run([], newMessageSid()); // warms the pool and the sender document
      const plain = await run([], newMessageSid());
      const sid = newMessageSid('MM');
      const ten = Array.from({ length: 10 }, () => ({ url: `https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${sid}/Media/${sidOf('ME')}`, contentType: 'image/jpeg' }));
      expect(await run(ten, sid)).to.deep.equal(plain);
      expect((await handle.store.pendingMedia(10)).map((m) => [m.messageSid, m.message.media.length])).to.deep.equal([[sid, 10]]);
    } finally {
      await handle.dispose();
    }
  });
});
