import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { startService, type RunningService } from '../../src/main.js';
import { PAGE_CSP } from '../../src/staff/page-security.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { FIXTURE_STAFF_FILE } from '../support/staff-auth-app.js';
import { signInAs } from '../support/staff-session.js';
import { WEBHOOK_PATH, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

describe('staff pages in the running service (real sign-in, sessions and live stream)', function () {
  this.timeout(30_000);
  let dir: string;
  let service: RunningService;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'staff-pages-'));
    service = await startService(fixtureServiceEnv({ SPOOL_DIR: join(dir, 'spool'), MEDIA_DIR: join(dir, 'media'), STAFF_FILE: FIXTURE_STAFF_FILE }));
  });

  after(async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('when Maria signs in with the demo sign-in, then /staff opens her clinic\'s inbox; without the session the page sends her to sign in', async () => {
    const web = request(service.app.callback());
    expect((await web.get('/staff/clinics/downtown')).status).to.equal(303);
    const cookie = await signInAs(service.app.callback(), 'maria@downtown.example');
    const home = await web.get('/staff').set('Cookie', cookie);
    expect(home.status).to.equal(303);
    expect(home.headers.location).to.equal('/staff/clinics/downtown');
    const inbox = await web.get('/staff/clinics/downtown').set('Cookie', cookie);
    expect(inbox.status).to.equal(200);
    expect(inbox.headers['content-security-policy']).to.equal(PAGE_CSP);
    expect(inbox.text).to.include('Signed in as Maria Front-Desk');
    expect((await web.get('/staff/clinics/northside').set('Cookie', cookie)).status).to.equal(404);
    const htmx = await web.get('/staff/assets/htmx.min.js');
    expect(htmx.status).to.equal(200);
    expect(htmx.headers['content-type']).to.match(/^text\/javascript/);
  });

  it('when a message arrives while Maria\'s stream is open, then the stream names it, with no reload (the 2 s target is measured by the bench)', async () => {
    const cookie = await signInAs(service.app.callback(), 'maria@downtown.example');
    const { port } = service.server.address() as { port: number };
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/staff/clinics/downtown/events`, { headers: { Cookie: cookie, Accept: 'text/event-stream' }, signal: controller.signal });
    expect(res.status).to.equal(200);
    const reader = res.body!.getReader();
    const started = Date.now();
    const { body: form, signature } = signedRequest(inboundParams({ From: uniquePhone(), Body: 'is anyone there?' }));
    expect((await request(service.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form)).status).to.equal(200);
    let got = '';
    while (!got.includes('event: message.created') && Date.now() - started < 10_000) {
      let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 10_000)))]);
        clearTimeout(timer);
      if (!chunk || chunk.done) {
        break;
      }
      got += Buffer.from(chunk.value).toString('utf8');
    }
    controller.abort();
    expect(got).to.match(/event: message\.created\ndata: cv_[0-9a-f]{32}/);
  });
});
