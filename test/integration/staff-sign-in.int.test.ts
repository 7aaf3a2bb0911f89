import { expect } from 'chai';
import request from 'supertest';
import { MemorySessionStore } from '../../src/staff/auth/session-store.js';
import { DEMO_ISSUER } from '../../src/staff/auth/staff-person.js';
import { buildStaffAuthApp } from '../support/staff-auth-app.js';
import { signInAs } from '../support/staff-session.js';

const MINUTE = 60_000;

describe('staff sign-in: demo sign-in, sessions and the person on each request', () => {
  it('when nobody is signed in, then a page load is sent to sign in with its path, htmx gets 401 + HX-Redirect, and SSE gets 401', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const page = await request(app.callback()).get('/staff/whoami?view=all');
    expect(page.status).to.equal(303);
    expect(page.headers.location).to.equal('/staff/auth/sign-in?next=%2Fstaff%2Fwhoami%3Fview%3Dall');
    const htmx = await request(app.callback()).get('/staff/whoami').set('HX-Request', 'true');
    expect(htmx.status).to.equal(401);
    expect(htmx.headers['hx-redirect']).to.match(/^\/staff\/auth\/sign-in\?/);
    const sse = await request(app.callback()).get('/staff/whoami').set('Accept', 'text/event-stream');
    expect(sse.status).to.equal(401);
    const post = await request(app.callback()).post('/staff/action');
    expect(post.status).to.equal(401);
  });

  it('when the demo sign-in is offered, then it lists the staff file\'s people by email, marked as development only', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const res = await request(app.callback()).get('/staff/auth/sign-in');
    expect(res.status).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.text).to.include('Demo sign-in').and.include('Development only').and.include('Sign in as Maria Front-Desk').and.include('nora@northside.example');
    expect(res.text).not.to.include('group.example');
  });

  it('when a listed person signs in, then the session cookie is a random id (HttpOnly, SameSite=Lax) and requests carry the person with the clinics of the staff file', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const res = await request(app.callback()).post('/staff/auth/demo-sign-in').set('Sec-Fetch-Site', 'same-origin').type('form').send({ email: 'MARIA@downtown.example', next: '/staff/clinics/downtown' });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/staff/clinics/downtown');
    const [cookie] = ([] as string[]).concat(res.headers['set-cookie'] ?? []).filter((c) => c.startsWith('clinic-sms-staff='));
    expect(cookie).to.match(/^clinic-sms-staff=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    const me = await request(app.callback()).get('/staff/whoami').set('Cookie', cookie!.split(';')[0]!);
    expect(me.status).to.equal(200);
    expect(me.headers['cache-control']).to.equal('no-store');
    expect(me.body).to.deep.equal({ issuer: DEMO_ISSUER, subject: 'maria@downtown.example', email: 'maria@downtown.example', name: 'Maria Front-Desk', clinics: ['downtown'] });
  });

  it('when someone signs in again, then the id is a new one and the old session ends (no fixation)', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const first = await signInAs(app.callback(), 'maria@downtown.example');
    const res = await request(app.callback()).post('/staff/auth/demo-sign-in').set('Sec-Fetch-Site', 'same-origin').set('Cookie', first).type('form').send({ email: 'maria@downtown.example' });
    const second = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]!.split(';')[0]!;
    expect(second).not.to.equal(first);
    expect((await request(app.callback()).get('/staff/whoami').set('Cookie', first)).status).to.equal(303);
    expect((await request(app.callback()).get('/staff/whoami').set('Cookie', second)).status).to.equal(200);
  });

  it('when a form post comes from another site, then sign-in and sign-out are refused (403)', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const cross = await request(app.callback()).post('/staff/auth/demo-sign-in').set('Sec-Fetch-Site', 'cross-site').type('form').send({ email: 'maria@downtown.example' });
    expect(cross.status).to.equal(403);
    const noHeaders = await request(app.callback()).post('/staff/auth/demo-sign-in').set('Origin', 'https://evil.example').type('form').send({ email: 'maria@downtown.example' });
    expect(noHeaders.status).to.equal(403);
    const cookie = await signInAs(app.callback(), 'maria@downtown.example');
    const out = await request(app.callback()).post('/staff/auth/sign-out').set('Sec-Fetch-Site', 'cross-site').set('Cookie', cookie);
    expect(out.status).to.equal(403);
    expect((await request(app.callback()).get('/staff/whoami').set('Cookie', cookie)).status).to.equal(200);
  });

  it('when someone signs out, then the session ends on the server: the old cookie no longer signs anyone in', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const cookie = await signInAs(app.callback(), 'maria@downtown.example');
    const out = await request(app.callback()).post('/staff/auth/sign-out').set('Sec-Fetch-Site', 'same-origin').set('Cookie', cookie);
    expect(out.status).to.equal(303);
    expect(out.headers.location).to.equal('/staff/auth/signed-out');
    expect(([] as string[]).concat(out.headers['set-cookie'] ?? []).join()).to.match(/clinic-sms-staff=; .*Max-Age=0/);
    expect((await request(app.callback()).get('/staff/whoami').set('Cookie', cookie)).status).to.equal(303);
  });

  it('when a session sits idle past STAFF_SESSION_IDLE_MINUTES, then it ends and the page says so; activity keeps it alive, a stream re-check does not', async () => {
    const { app, clock } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore(), config: { staffSessionIdleMinutes: 15 } });
    const cookie = await signInAs(app.callback(), 'maria@downtown.example');
    clock.advance(10 * MINUTE);
    expect((await request(app.callback()).get('/staff/whoami').set('Cookie', cookie)).status).to.equal(200);
    clock.advance(10 * MINUTE);
    // 20 minutes after sign-in, 10 after the last page: still signed in.
    expect((await request(app.callback()).get('/staff/quiet').set('Cookie', cookie)).status).to.equal(200);
    clock.advance(5 * MINUTE + 1000);
    // 15 minutes after the last page (the stream's check was no activity): signed out.
    const res = await request(app.callback()).get('/staff/whoami').set('Cookie', cookie);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.include('expired=1');
    const signIn = await request(app.callback()).get(res.headers.location as string);
    expect(signIn.text).to.include('You were signed out after 15 minutes without activity.');
  });

  it('when a session has been active for 12 hours, then it ends however busy it was', async () => {
    const { app, clock } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const cookie = await signInAs(app.callback(), 'maria@downtown.example');
    for (let i = 0; i < 12 * 6 - 1; i += 1) {
      clock.advance(10 * MINUTE);
      expect((await request(app.callback()).get('/staff/whoami').set('Cookie', cookie)).status, `after ${(i + 1) * 10} min`).to.equal(200);
    }
    clock.advance(10 * MINUTE);
    expect((await request(app.callback()).get('/staff/whoami').set('Cookie', cookie)).status).to.equal(303);
  });

  it('when someone not on the staff list asks for the demo sign-in, then it is refused and recorded', async () => {
    const { app, records } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const res = await request(app.callback()).post('/staff/auth/demo-sign-in').set('Sec-Fetch-Site', 'same-origin').type('form').send({ email: 'mallory@elsewhere.example' });
    expect(res.status).to.equal(403);
    expect(res.headers['set-cookie'] ?? []).to.deep.equal([]);
    const [record] = await records();
    expect(record).to.include({ route: '/staff/auth/demo-sign-in', status: 403, method: 'POST', clinicId: null });
  });

  it('when NODE_ENV=production and no issuer is set, then the demo sign-in is refused and the page says what to configure', async () => {
    const { app } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore(), config: { nodeEnv: 'production' } });
    const page = await request(app.callback()).get('/staff/auth/sign-in');
    expect(page.status).to.equal(404);
    expect(page.text).to.include('STAFF_OIDC_ISSUER');
    const post = await request(app.callback()).post('/staff/auth/demo-sign-in').set('Sec-Fetch-Site', 'same-origin').type('form').send({ email: 'maria@downtown.example' });
    expect(post.status).to.equal(403);
    expect(post.headers['set-cookie'] ?? []).to.deep.equal([]);
  });

  it('when the staff file stops listing a signed-in person, then their next request gets "no access", recorded with who they are', async () => {
    const { app, auth, records } = await buildStaffAuthApp({ sessionStore: new MemorySessionStore() });
    const cookie = await signInAs(app.callback(), 'maria@downtown.example');
    const { StaffDirectory } = await import('../../src/staff/auth/staff-file.js');
    // The reload's effect, without the file: the directory in force now lists nobody.
    Object.assign(auth.staffFile, { current: () => new StaffDirectory([]) });
    const res = await request(app.callback()).get('/staff/whoami').set('Cookie', cookie);
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal('/staff/auth/no-access');
    const page = await request(app.callback()).get('/staff/auth/no-access').set('Cookie', cookie);
    expect(page.status).to.equal(403);
    expect(page.text).to.include('No access').and.include('maria@downtown.example');
    const [record] = await records();
    expect(record).to.deep.include({ route: '/staff/auth/no-access', status: 403, who: { kind: 'staff', issuer: DEMO_ISSUER, subject: 'maria@downtown.example', email: 'maria@downtown.example' } });
  });
});
