import net from 'node:net';
import { expect } from 'chai';
import { loadConfig } from '../../src/config/load-config.js';
import { createHttpServer, serverLimits } from '../../src/http/server-limits.js';
import { listenOnPort0, type Listening } from '../support/http-client.js';
import { closingTestApps } from '../support/test-app.js';

/** A connection from a given loopback address; resolves with whether the server kept it open `ms` after it opened. */
function connect(port: number, from: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function stillOpen(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(!socket.destroyed), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * Issue 27: behind a proxy every connection has the proxy's address, so the per-address cap
 * (MAX_CONNECTIONS_PER_ADDRESS) must not count the proxy as one client: the proxies
 * TRUST_PROXY lists are exempt, every other address keeps its cap.
 */
describe('the per-address connection cap with a trusted proxy', function () {
  const buildTestApp = closingTestApps();
  let listening: Listening;
  const sockets: net.Socket[] = [];

  before(async () => {
    const config = loadConfig({ TRUST_PROXY: '127.0.0.2', MAX_CONNECTIONS_PER_ADDRESS: '2' });
    expect(config).to.deep.include({ trustProxy: true, trustedProxies: ['127.0.0.2'], maxConnectionsPerAddress: 2 });
    const t = await buildTestApp();
    listening = await listenOnPort0(createHttpServer(t.app.callback(), { ...serverLimits(config), checkIntervalMs: 50 }));
  });

  after(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    await listening.close();
  });

  it('when the trusted proxy holds more connections than the cap, then all stay open, while another address past the cap is closed', async () => {
    for (let i = 0; i < 5; i += 1) {
      sockets.push(await connect(listening.port, '127.0.0.2'));
    }
    const others = [await connect(listening.port, '127.0.0.3'), await connect(listening.port, '127.0.0.3'), await connect(listening.port, '127.0.0.3')];
    sockets.push(...others);
    const open = await Promise.all(sockets.map((s) => stillOpen(s, 300)));
    expect(open).to.deep.equal([true, true, true, true, true, true, true, false]);
  });
});

describe('TRUST_PROXY', function () {
  it('when it lists addresses and ranges, then exactly those are trusted; a flag trusts any peer; a malformed entry is one problem', () => {
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1,::1' })).to.deep.include({ trustProxy: true, trustedProxies: ['127.0.0.1', '::1'] });
    expect(loadConfig({ TRUST_PROXY: '172.28.0.0/24' })).to.deep.include({ trustProxy: true, trustedProxies: ['172.28.0.0/24'] });
    expect(loadConfig({ TRUST_PROXY: '1' })).to.deep.include({ trustProxy: true, trustedProxies: [] });
    expect(loadConfig({})).to.deep.include({ trustProxy: false, trustedProxies: [] });
    expect(() => loadConfig({ TRUST_PROXY: '127.0.0.1,proxy.local.' })).to.throw(/TRUST_PROXY must be 1, off, or the proxies' addresses/);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).to.throw(/TRUST_PROXY must be/);
  });
});
