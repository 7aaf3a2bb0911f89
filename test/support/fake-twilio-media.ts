import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake serves for one media SID. */
export interface FakeMedia {
  bytes: Buffer;
  /** The Content-Type header sent (what Twilio would declare). */
  contentType: string;
  /** Answer 404 this many times before serving (Twilio's media lagging the webhook). */
  notFoundTimes?: number;
  /** Send no Content-Length, in 16 KB chunks paced 2 ms apart (a large stream). */
  chunked?: boolean;
  /** The CDN never answers this many requests (a download a dead worker left behind). */
  hangTimes?: number;
}

export interface CdnSend {
  mediaSid: string;
  total: number;
  /** Bytes written before the response finished or the connection closed. */
  sent: number;
  /** True when the client closed the connection before everything was sent. */
  closedEarly: boolean;
  /** Whether the CDN request carried an Authorization header (it must not). */
  authorization: boolean;
}

/**
 * A local stand-in for Twilio's media API: `GET /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…`
 * demands HTTP Basic (the account SID and auth token, or an API key and secret) and
 * answers with a redirect to `/cdn/ME…` on the same server, as Twilio redirects to its
 * CDN; `DELETE …/Media/ME….json` deletes. Port 0.
 */
export class FakeTwilioMedia {
  readonly media = new Map<string, FakeMedia>();
  /** Accepted `user:password` pairs. */
  readonly credentials = new Set<string>();
  readonly apiRequests: { method: string; path: string; status: number }[] = [];
  readonly cdnSends: CdnSend[] = [];
  readonly deleted: string[] = [];
  private server: Server | undefined;
  private readonly served = new Map<string, number>();

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  /** The media URL Twilio would put in MediaUrlN. */
  mediaUrl(accountSid: string, messageSid: string, mediaSid: string): string {
    return `${this.baseUrl}/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}/Media/${mediaSid}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    return m !== null && this.credentials.has(Buffer.from(m[1] as string, 'base64').toString('utf8'));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    const api = /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Messages\/MM[0-9a-f]{32}\/Media\/(ME[0-9a-f]{32})(\.json)?$/.exec(path);
    const answer = (status: number, headers: Record<string, string> = {}): void => {
      this.apiRequests.push({ method: req.method ?? '', path, status });
      res.writeHead(status, headers).end();
    };
    if (api) {
      const sid = api[1] as string;
      if (!this.authorized(req)) {
        answer(401, { 'www-authenticate': 'Basic realm="Twilio API"' });
        return;
      }
      if (req.method === 'DELETE' && api[2] === '.json') {
        this.deleted.push(sid);
        this.media.delete(sid);
        answer(204);
        return;
      }
      const item = this.media.get(sid);
      const served = this.served.get(sid) ?? 0;
      this.served.set(sid, served + 1);
      if (req.method !== 'GET' || api[2] !== undefined || !item || served < (item.notFoundTimes ?? 0)) {
        answer(404);
        return;
      }
      answer(307, { location: `/cdn/${sid}` });
      return;
    }
    const cdn = /^\/cdn\/(ME[0-9a-f]{32})$/.exec(path);
    const item = cdn ? this.media.get(cdn[1] as string) : undefined;
    if (!cdn || !item) {
      res.writeHead(404).end();
      return;
    }
    if ((item.hangTimes ?? 0) > 0) {
      item.hangTimes = (item.hangTimes ?? 0) - 1;
      return;
    }
    const send: CdnSend = { mediaSid: cdn[1] as string, total: item.bytes.length, sent: 0, closedEarly: false, authorization: req.headers.authorization !== undefined };
    this.cdnSends.push(send);
    if (!item.chunked) {
      res.writeHead(200, { 'content-type': item.contentType, 'content-length': String(item.bytes.length) });
      send.sent = item.bytes.length;
      res.end(item.bytes);
      return;
    }
    res.writeHead(200, { 'content-type': item.contentType });
    res.on('close', () => {
      send.closedEarly = !res.writableFinished;
    });
    const CHUNK = 16 * 1024;
    // Paced, so the kernel's socket buffers never hold the rest: what was sent is what the client read.
    const pump = (): void => {
      if (res.destroyed) {
        return;
      }
      if (send.sent >= item.bytes.length) {
        res.end();
        return;
      }
      const chunk = item.bytes.subarray(send.sent, send.sent + CHUNK);
      send.sent += chunk.length;
      if (res.write(chunk)) {
        setTimeout(pump, 2);
      } else {
        res.once('drain', () => setTimeout(pump, 2));
      }
    };
    pump();
  }
}
