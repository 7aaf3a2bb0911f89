import net from 'node:net';
import { expect } from 'chai';
import { createHttpServer, type ServerLimits } from '../../src/http/server-limits.js';
import { loadConfig } from '../../src/config/load-config.js';
import { closingTestApps, WEBHOOK_PATH } from '../support/test-app.js';
import { listenOnPort0, type Listening } from '../support/http-client.js';

/** Short limits so the test sees in well under a second what production does in 10 and 20 s. */
const LIMITS: ServerLimits = { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, maxConnectionsPerAddress: 3, checkIntervalMs: 50 };

interface Opened {
  socket: net.Socket;
  /** Resolves when the server closes the connection: what it wrote first, and after how long. */
  closed: Promise<{ text: string; ms: number }>;
}

function open(port: number, write?: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const closed = new Promise<{ text: string; ms: number }>((done) => socket.on('close', () => done({ text, ms: Date.now() - started })));
    socket.once('error', () => undefined);
    socket.once('connect', () => {
      if (write !== undefined) {
        socket.write(write);
      }
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

/** Resolves with the close, or with null when the connection is still open after `ms`. */
function closedWithin(o: Opened, ms: number): Promise<{ text: string; ms: number } | null> {
  return Promise.race([o.closed, new Promise<null>((r) => setTimeout(() => r(null), ms))]);
}

describe('slow and greedy clients', () => {
  const buildTestApp = closingTestApps();
  let listening: Listening;
  const sockets: net.Socket[] = [];

  before(async () => {
    const t = await buildTestApp();
    listening = await listenOnPort0(createHttpServer(t.app.callback(), LIMITS));
  });

  afterEach(() => {
    sockets.splice(0).forEach((s) => s.destroy());
  });

  after(async () => {
    await listening.close();
  });

  async function track(o: Promise<Opened>): Promise<Opened> {
    const opened = await o;
    sockets.push(opened.socket);
    return opened;
  }

  it('when a client never finishes its headers, then the server answers 408 and closes after the headers timeout', async () => {
    const o = await track(open(listening.port, `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n`));
    const closed = await closedWithin(o, 3000);
    expect(closed, 'still open after 3 s').not.to.equal(null);
    expect(closed?.ms).to.be.at.least(LIMITS.headersTimeoutMs - 50);
    expect(closed?.text).to.match(/^HTTP\/1\.1 408/);
  });

  it('when a body is shorter than its Content-Length, then the server closes the connection after the request timeout', async () => {
    const o = await track(
      open(listening.port, `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\nBody=HELP`),
    );
    const closed = await closedWithin(o, 3000);
    expect(closed, 'still open after 3 s').not.to.equal(null);
    expect(closed?.ms).to.be.at.least(LIMITS.requestTimeoutMs - 50);
    expect(closed?.text).not.to.match(/^HTTP\/1\.1 5/);
  });

  it('when a keep-alive connection sits idle after its response, then the server closes it after the keep-alive timeout', async () => {
    const o = await track(open(listening.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    const closed = await closedWithin(o, 3000);
    expect(closed, 'still open after 3 s').not.to.equal(null);
    expect(closed?.text).to.match(/^HTTP\/1\.1 200/);
    // Node adds a 1 s buffer to the keep-alive timeout before it closes the socket (keepAliveTimeoutBuffer).
    expect(closed?.ms).to.be.at.least(LIMITS.keepAliveTimeoutMs);
  });

  it('when one address opens more connections than allowed, then the extra ones are closed and the others still served', async () => {
    const held = [await track(open(listening.port)), await track(open(listening.port)), await track(open(listening.port))];
    const extra = await track(open(listening.port));
    const refused = await closedWithin(extra, 1000);
    expect(refused, 'the 4th connection stayed open').not.to.equal(null);
    expect(refused?.text).to.equal('');
    const served = held[2] as Opened;
    served.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect((await served.closed).text).to.match(/^HTTP\/1\.1 200/);
    // A slot freed by a closed connection can be taken again.
    const again = await track(open(listening.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    expect((await again.closed).text).to.match(/^HTTP\/1\.1 200/);
  });

  it('when the defaults are read, then headers get 10 s, a request 20 s (inside Twilio\'s 15 s wait plus margin) and one address 100 connections', () => {
    const config = loadConfig({ TWILIO_AUTH_TOKEN: 't' });
    expect(config).to.include({ headersTimeoutMs: 10_000, requestTimeoutMs: 20_000, keepAliveTimeoutMs: 5_000, maxConnectionsPerAddress: 100 });
    expect(() => loadConfig({ TWILIO_AUTH_TOKEN: 't', HTTP_HEADERS_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '20000' })).to.throw(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});
