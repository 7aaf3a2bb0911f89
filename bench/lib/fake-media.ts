/**
 * A local stand-in for Twilio's media API, for the media phase: any
 * `GET /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…` with the right HTTP Basic
 * answers a redirect to `/cdn/ME…` (Twilio redirects to its CDN), which serves a small
 * JPEG. Unlike test/support/fake-twilio-media.ts it needs no media registered ahead and
 * keeps only counts, so it can run for minutes. Port 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A small JPEG (its magic number and JFIF header, then filler): what the worker's type check sees. */
const JPEG = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), Buffer.alloc(2048, 0x11), Buffer.from('ffd9', 'hex')]);
const API_PATH = /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Messages\/MM[0-9a-f]{32}\/Media\/(ME[0-9a-f]{32})$/;

export interface FakeMedia {
  baseUrl: string;
  /** Files served by the CDN path, and API requests refused for want of credentials. */
  counts: { served: number; unauthorized: number };
  close(): Promise<void>;
}

/** @param credentials - the accepted `user:password` (the account SID and auth token) */
export async function startFakeMedia(credentials: string): Promise<FakeMedia> {
  const expected = `Basic ${Buffer.from(credentials).toString('base64')}`;
  const counts = { served: 0, unauthorized: 0 };
  const server: Server = createServer((req, res) => {
    const api = API_PATH.exec(req.url ?? '');
    if (api && req.method === 'GET') {
      if (req.headers.authorization !== expected) {
        counts.unauthorized += 1;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Twilio API"' }).end();
        return;
      }
      res.writeHead(307, { location: `/cdn/${api[1] as string}` }).end();
      return;
    }
    if (req.method === 'GET' && /^\/cdn\/ME[0-9a-f]{32}$/.test(req.url ?? '')) {
      counts.served += 1;
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(JPEG.length) }).end(JPEG);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
