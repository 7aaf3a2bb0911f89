import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { downloadMedia, type DownloadOptions } from '../../../src/media/download.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local server whose answer each test sets; it notes each request's path and Authorization. */
async function startServer(): Promise<{ base: string; seen: Array<{ path: string; auth: string | undefined }>; handle(h: Handler): void; close(): Promise<void> }> {
  let handler: Handler = (_req, res) => res.end();
  const seen: Array<{ path: string; auth: string | undefined }> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', auth: req.headers.authorization });
    handler(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    handle: (h) => {
      handler = h;
    },
    close: () =>
      new Promise((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

describe('media download', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const options = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
    url: new URL(`${server.base}/api/file`),
    auth: { username: 'AC1', password: 'secret' },
    policy: { production: false, apiBaseUrl: server.base },
    maxBytes: 1000,
    timeoutMs: 2000,
    ...extra,
  });

  beforeEach(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('when the API redirects to the CDN, then the file is read there without credentials, with its declared type', async () => {
    server.handle((req, res) => {
      if (req.url === '/api/file') {
        res.writeHead(307, { location: '/cdn/file', 'content-length': '0' }).end();
      } else {
        res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('png bytes'));
      }
    });
    const result = await downloadMedia(options());
    expect(result).to.deep.equal({ kind: 'ok', bytes: Buffer.from('png bytes'), declaredType: 'image/png' });
    expect(server.seen).to.deep.equal([
      { path: '/api/file', auth: `Basic ${Buffer.from('AC1:secret').toString('base64')}` },
      { path: '/cdn/file', auth: undefined },
    ]);
  });

  it('when a redirect leaves Twilio\'s hosts or they keep redirecting, then it is refused without following', async () => {
    server.handle((_req, res) => res.writeHead(302, { location: 'https://evil.example/x' }).end());
    expect(await downloadMedia(options())).to.deep.equal({ kind: 'refused', reason: 'redirect to a host outside Twilio\'s CDN refused' });
    expect(server.seen).to.have.length(1);
    server.handle((req, res) => res.writeHead(302, { location: `${req.url ?? ''}x` }).end());
    expect(await downloadMedia(options())).to.deep.equal({ kind: 'refused', reason: 'too many redirects' });
  });

  it('when the answer is not 2xx, then its status is the result', async () => {
    server.handle((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":20404}'));
    expect(await downloadMedia(options())).to.deep.equal({ kind: 'status', status: 404 });
  });

  it('when the file declares or streams more than the limit, then it is refused as too large and the connection closed', async () => {
    server.handle((_req, res) => res.writeHead(200, { 'content-length': '5000' }).end(Buffer.alloc(5000)));
    expect(await downloadMedia(options())).to.deep.equal({ kind: 'too-large', limit: 1000 });
    let closed!: Promise<boolean>;
    server.handle((req, res) => {
      closed = new Promise((resolve) => req.socket.on('close', () => resolve(!res.writableEnded)));
      res.writeHead(200);
      res.write(Buffer.alloc(800));
      res.write(Buffer.alloc(800)); // past the limit: no end follows
    });
    expect(await downloadMedia(options())).to.deep.equal({ kind: 'too-large', limit: 1000 });
    expect(await closed, 'the connection closed before the server finished').to.equal(true);
  });

  it('when the server does not answer in time, then the result is a timeout; when the worker stops, then it is a network result', async () => {
    server.handle(() => undefined);
    expect(await downloadMedia(options({ timeoutMs: 100 }))).to.deep.equal({ kind: 'timeout' });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    expect(await downloadMedia(options({ signal: stop.signal }))).to.include({ kind: 'network' });
  });
});
