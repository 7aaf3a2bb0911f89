/**
 * A local stand-in for Twilio's media API, for the media phase: any
 * `GET /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…` with the right HTTP Basic
 * answers a redirect to `/cdn/ME…` (Twilio redirects to its CDN), which serves a small
 * JPEG. Unlike test/support/fake-twilio-media.ts it needs no media registered ahead and
 * keeps only counts, so it can run for minutes. It runs in a child process of its own
 * (started like the bench's servers, FAKE_MEDIA_CREDENTIALS = the accepted `user:password`,
 * the account SID and auth token), so serving hundreds of files a second never delays the
 * load generator's event loop, which times the webhook. Its counts come with its stats.
 */
import { createServer } from 'node:http';
import { closeServer, listenOn, serveParent } from './child.js';

/** A small JPEG (its magic number and JFIF header, then filler): what the worker's type check sees. */
const JPEG = Buffer.concat([Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'), Buffer.alloc(2048, 0x11), Buffer.from('ffd9', 'hex')]);
const API_PATH = /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Messages\/MM[0-9a-f]{32}\/Media\/(ME[0-9a-f]{32})$/;

const expected = `Basic ${Buffer.from(process.env.FAKE_MEDIA_CREDENTIALS ?? '').toString('base64')}`;
/** Files served by the CDN path, and API requests refused for want of credentials. */
const counts = { served: 0, unauthorized: 0 };
const server = createServer((req, res) => {
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
server.listen(...listenOn(), () => serveParent(server, () => closeServer(server), () => ({ ...counts })));
