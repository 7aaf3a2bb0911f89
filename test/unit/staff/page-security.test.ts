import { expect } from 'chai';
import Koa from 'koa';
import request from 'supertest';
import { errorMiddleware } from '../../../src/http/error-middleware.js';
import { requireSameOrigin } from '../../../src/staff/page-security.js';

function appWith(origin: string | null): Koa {
  const app = new Koa();
  app.use(errorMiddleware());
  app.use(requireSameOrigin(origin));
  app.use((ctx) => {
    ctx.body = 'changed';
  });
  return app;
}

describe('staff pages: same-origin check on state changes', function () {
  it('when no PUBLIC_BASE_URL is set, then the Origin must be the request\'s own scheme and host (not whatever Origin it sends)', async function () {
    const app = appWith(null).callback();
    expect((await request(app).post('/x').set('Host', 'desk.example').set('Origin', 'https://evil.example')).status).to.equal(403);
    expect((await request(app).post('/x').set('Host', 'desk.example')).status).to.equal(403);
    expect((await request(app).post('/x').set('Host', 'desk.example').set('Origin', 'http://desk.example')).status).to.equal(200);
  });

  it('when Sec-Fetch-Site is sent, then only same-origin passes; reads pass without either header', async function () {
    const app = appWith('https://desk.example').callback();
    for (const site of ['cross-site', 'same-site', 'none']) {
      expect((await request(app).post('/x').set('Sec-Fetch-Site', site).set('Origin', 'https://desk.example')).status, site).to.equal(403);
    }
    expect((await request(app).post('/x').set('Sec-Fetch-Site', 'same-origin')).status).to.equal(200);
    expect((await request(app).get('/x')).status).to.equal(200);
  });
});
