import http from 'node:http';
import net from 'node:net';
import type Router from '@koa/router';
import { expect } from 'chai';
import { createHttpServer, serverLimits } from '../../src/http/server-limits.js';
import { closingTestApps, type TestApp } from '../support/test-app.js';
import { listenOnPort0, sendRaw, type Listening } from '../support/http-client.js';

/** Every route the app serves, read from its router, with the methods each one answers. */
function routesOf(t: TestApp): Array<{ path: string; methods: string[] }> {
  // The app's own router and the features' (the staff API, media, staff sign-in), as buildService mounts them.
  const dispatches = t.app.middleware.filter((m) => 'router' in m) as unknown as { router: Router }[];
  if (dispatches.length === 0) {
    throw new Error('no router mounted');
  }
  const byPath = new Map<string, Set<string>>();
  for (const layer of dispatches.flatMap((d) => d.router.stack)) {
    const methods = byPath.get(String(layer.path)) ?? new Set<string>();
    layer.methods.forEach((m) => methods.add(m));
    byPath.set(String(layer.path), methods);
  }
  return [...byPath].map(([path, methods]) => ({ path, methods: [...methods] }));
}

/** A CONNECT request written by hand: node's client treats CONNECT as a tunnel, not a request. */
function rawConnect(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('HTTP methods on every route', () => {
  const buildTestApp = closingTestApps();
  let t: TestApp;
  let listening: Listening;

  before(async () => {
    t = await buildTestApp();
    // The server main.ts runs, with its production limits.
    listening = await listenOnPort0(createHttpServer(t.app.callback(), serverLimits(t.config)));
  });

  after(async () => {
    await listening.close();
  });

  it('when the app is built, then its routes include the webhook and the probes (the list below is not empty by accident)', () => {
    const paths = routesOf(t).map((r) => r.path);
    expect(paths).to.include.members(['/v1/clinic/webhooks/twilio/sms', '/healthz', '/readyz', '/metrics']);
  });

  // Every method node's HTTP parser accepts, CONNECT aside (a tunnel: checked below).
  const methods = http.METHODS.filter((m) => m !== 'CONNECT');

  it('when any method is sent to any route, then the answer is never a 5xx, and a method the route lacks gets 405 with Allow', async () => {
    const seen: string[] = [];
    for (const route of routesOf(t)) {
      for (const method of methods) {
        const res = await sendRaw(listening.port, { method, path: route.path });
        seen.push(`${method} ${route.path} ${res.status}`);
        expect(res.status, `${method} ${route.path}`).to.be.below(500);
        if (method === 'OPTIONS') {
          expect(res.status, `${method} ${route.path}`).to.equal(200);
          expect(res.headers.allow, `${method} ${route.path}`).to.equal(route.methods.join(', '));
        } else if (!route.methods.includes(method)) {
          expect(res.status, `${method} ${route.path}`).to.equal(405);
          expect(res.headers.allow, `${method} ${route.path}`).to.equal(route.methods.join(', '));
        }
      }
    }
    expect(seen.length).to.equal(routesOf(t).length * methods.length);
  });

  for (const method of ['PROPFIND', 'TRACE', 'SEARCH', 'LOCK', 'MKCOL', 'COPY', 'MOVE', 'REPORT']) {
    it(`when ${method} is sent to the webhook, then it answers 405 with Allow: POST`, async () => {
      const res = await sendRaw(listening.port, { method, path: '/v1/clinic/webhooks/twilio/sms' });
      expect(res.status).to.equal(405);
      expect(res.headers.allow).to.equal('POST');
    });
  }

  it('when an unusual method is sent to a path no route serves, then it answers 404, not 501', async () => {
    const res = await sendRaw(listening.port, { method: 'PROPFIND', path: '/nowhere' });
    expect(res.status).to.equal(404);
  });

  it('when CONNECT is sent to any route, then it answers 405 with Allow instead of dropping the connection', async () => {
    for (const route of routesOf(t)) {
      const text = await rawConnect(listening.port, route.path);
      expect(text, `CONNECT ${route.path}`).to.match(/^HTTP\/1\.1 405 /);
      expect(text, `CONNECT ${route.path}`).to.include(`\r\nAllow: ${route.methods.join(', ')}\r\n`);
    }
  });
});
