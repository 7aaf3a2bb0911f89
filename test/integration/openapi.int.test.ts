import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Koa from 'koa';
import request from 'supertest';
import { CONVERSATION_STATUSES } from '../../src/conversations/conversation.js';
import { newId } from '../../src/conversations/conversation-service.js';
import { MEDIA_PATH, OPENAPI_PATH, openApiPath } from '../../src/conversations/openapi-document.js';
import { startService, type RunningService } from '../../src/main.js';
import { aMessage } from '../contract/store-fixtures.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { DOWNTOWN_ACCOUNT_SID, STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { PUBLIC_BASE_URL, uniquePhone } from '../support/test-app.js';
import { fixtureServiceEnv } from '../support/service-env.js';

type Doc = { openapi: string; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, { content?: Record<string, { schema: object }> }> }>>; components: { schemas: Record<string, object>; securitySchemes: Record<string, { type: string; scheme?: string }> } };

/** `METHOD /path/{param}` for every route the app's routers serve (HEAD rides with GET; the catch-all has no method). */
function servedRoutes(app: Koa): Set<string> {
  const out = new Set<string>();
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: { stack: Array<{ path: string; methods: string[] }> } }).router;
    for (const layer of router?.stack ?? []) {
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
        out.add(`${method} ${openApiPath(layer.path)}`);
      }
    }
  }
  return out;
}

function documentedRoutes(doc: Doc): Set<string> {
  return new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
}

/**
 * The media route is built by the media feature (src/media/media-routes.ts). Until that module
 * exists the document may list the route without the app serving it; once it exists, the
 * route must be served like every other documented one.
 */
const MEDIA_ROUTE = `GET ${openApiPath(MEDIA_PATH)}`;
const MEDIA_FEATURE_PRESENT = existsSync('src/media/media-routes.ts');

describe('OpenAPI document (GET /v1/openapi.json)', function () {
  this.timeout(30_000);
  let dir: string;
  let service: RunningService;
  let doc: Doc;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'openapi-'));
    service = await startService(fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), MEDIA_DIR: join(dir, 'media') }));
    const res = await request(service.server).get(OPENAPI_PATH);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    doc = res.body as Doc;
  });

  after(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('when the document is checked against the OpenAPI 3.1 schema, then it is valid and every $ref resolves', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    expect(validator.version).to.equal('3.1');
    expect(() => validator.resolveRefs()).not.to.throw();
    expect(doc.openapi).to.equal('3.1.0');
  });

  it('when the routes the running app serves are compared with the document, then each is documented and each documented route is served', () => {
    // The staff pages (/staff: HTML for browsers) are not part of the JSON API's document, by design.
    const isPage = (r: string): boolean => /^[A-Z]+ \/staff(?:\/|$)/.test(r);
    const all = servedRoutes(service.app);
    expect([...all].some(isPage), 'the staff pages are served').to.equal(true);
    const served = new Set([...all].filter((r) => !isPage(r)));
    const documented = documentedRoutes(doc);
    expect(served.size).to.be.at.least(11);
    expect([...documented].filter(isPage), 'pages in the document').to.deep.equal([]);
    const undocumented = [...served].filter((r) => !documented.has(r));
    expect(undocumented, 'served but not in the document').to.deep.equal([]);
    const pending = MEDIA_FEATURE_PRESENT ? [] : [MEDIA_ROUTE];
    const unserved = [...documented].filter((r) => !served.has(r) && !pending.includes(r));
    expect(unserved, 'documented but not served').to.deep.equal([]);
    expect(documented.has(MEDIA_ROUTE)).to.equal(true);
  });

  it('when a staff API operation is read, then it needs the bearer scheme with its scope, and the Twilio and operations routes need none', () => {
    expect(doc.components.securitySchemes.apiKey).to.include({ type: 'http', scheme: 'bearer' });
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (path.startsWith('/v1/clinics/')) {
          expect(op.security, `${method} ${path}`).to.deep.equal([{ apiKey: [method === 'get' ? 'conversations:read' : 'conversations:write'] }]);
          expect(Object.keys(op.responses), `${method} ${path}`).to.include.members(['401', '403', '404', '429']);
        } else {
          expect(op.security, `${method} ${path}`).to.equal(undefined);
        }
      }
    }
    expect((doc.components.schemas.Conversation as { properties: { status: { enum: string[] } } }).properties.status.enum).to.deep.equal([...CONVERSATION_STATUSES]);
  });

  it('when PUBLIC_BASE_URL is set, then it is the document\'s server', () => {
    expect((doc as unknown as { servers: unknown }).servers).to.deep.equal([{ url: PUBLIC_BASE_URL }]);
  });
});

/** Real staff API answers, checked against the document's response schemas for their status. */
describe('OpenAPI document against real answers', function () {
  let t: StaffTestApp;
  let twilioFake: FakeTwilio;
  let key: string;
  let doc: Doc;
  let ajv: Ajv2020;

  before(async () => {
    const made = await STAFF_STORE_KINDS[0]!.make();
    twilioFake = await startFakeTwilio();
    t = await buildStaffApp(made!, { twilioApiBaseUrl: twilioFake.baseUrl });
    key = t.key('downtown', ['conversations:read', 'conversations:write']);
    doc = (await request(t.app.callback()).get(OPENAPI_PATH)).body as Doc;
    ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'doc', components: doc.components });
  });

  after(async () => {
    await twilioFake?.close();
    await t?.dispose();
  });

  /** Asserts the answer's body matches the document's schema for that route, method and status. */
  function conforms(path: string, method: string, res: request.Response): void {
    const op = doc.paths[path]?.[method];
    expect(op, `${method} ${path} is documented`).to.not.equal(undefined);
    const response = op!.responses[String(res.status)];
    expect(response, `${method} ${path} documents ${res.status}`).to.not.equal(undefined);
    const schema = response!.content?.['application/json']?.schema;
    if (schema) {
      const rewritten = JSON.parse(JSON.stringify(schema).replace(/"#\/components/g, '"doc#/components')) as object;
      const validate = ajv.compile(rewritten);
      expect(validate(res.body), `${method} ${path} ${res.status}: ${JSON.stringify(validate.errors)}`).to.equal(true);
    }
  }

  it('when every staff route answers (success and refusals), then each body matches the documented schema for its status', async () => {
    const phone = uniquePhone();
    const record = aMessage({ clinicId: 'downtown', receivedAt: new Date(), status: 'processed', rulesFired: ['route-questions'], actions: [{ type: 'route-to-staff', outcome: 'routed', ruleName: 'route-questions' }], reply: 'Thanks.' });
    record.message.from = phone;
    record.message.to = '+13125550100';
    record.message.media = [{ url: `https://api.twilio.com/2010-04-01/Accounts/${DOWNTOWN_ACCOUNT_SID}/Messages/MM${'1'.repeat(32)}/Media/ME${'2'.repeat(32)}`, contentType: 'image/jpeg' }];
    await t.store.claimMessage(record);
    const id = newId('cv');
    await t.stores.conversations.recordRouted({ clinicId: 'downtown', phone, clinicNumber: '+13125550100', messageSid: record.messageSid, at: new Date(), body: 'Is my lab result in?', patients: [{ id: 'p-1', displayName: 'Ana Diaz' }] }, id);

    const api = () => request(t.app.callback());
    const auth = { Authorization: `Bearer ${key}` };
    const LIST = '/v1/clinics/{clinicId}/conversations';
    const ONE = `${LIST}/{id}`;
    const base = `/v1/clinics/downtown/conversations`;

    conforms(LIST, 'get', await api().get(base).set(auth).expect(200));
    conforms(LIST, 'get', await api().get(`${base}?limit=0`).set(auth).expect(400));
    conforms(LIST, 'get', await api().get(base).expect(401));
    conforms(LIST, 'get', await api().get('/v1/clinics/northside/conversations').set(auth).expect(404));
    const readOnly = { Authorization: `Bearer ${t.key('downtown', ['conversations:read'])}` };
    conforms(`${ONE}/replies`, 'post', await api().post(`${base}/${id}/replies`).set(readOnly).send({ text: 'x' }).expect(403));
    conforms(`${ONE}/notes`, 'post', await api().post(`${base}/${id}/notes`).set(auth).send({ text: 'Called back' }).expect(201));
    conforms(`${ONE}/replies`, 'post', await api().post(`${base}/${id}/replies`).set(auth).send({ text: 'Your results are in.' }).expect(201));
    conforms(`${ONE}/assignee`, 'post', await api().post(`${base}/${id}/assignee`).set(auth).send({ assignee: 'Maria' }).expect(200));
    conforms(`${ONE}/status`, 'post', await api().post(`${base}/${id}/status`).set(auth).send({ status: 'snoozed', snoozedUntil: '2099-01-01T00:00:00Z' }).expect(200));
    conforms(`${ONE}/status`, 'post', await api().post(`${base}/${id}/status`).set(auth).send({ status: 'closed' }).expect(400));
    conforms(`${ONE}/status`, 'post', await api().post(`${base}/${id}/status`).set(auth).set('Content-Type', 'text/plain').send('resolved').expect(415));
    const thread = await api().get(`${base}/${id}`).set(auth).expect(200);
    conforms(ONE, 'get', thread);
    expect((thread.body as { entries: Array<{ type: string }> }).entries.map((e) => e.type)).to.have.members(['inbound', 'note', 'outbound']);
    conforms('/healthz', 'get', await api().get('/healthz').expect(200));
    conforms('/readyz', 'get', await api().get('/readyz'));
  });
});
