import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request Twilio's Messages API got. */
export interface FakeTwilioRequest {
  method: string;
  path: string;
  /** Decoded Basic auth. */
  username: string;
  password: string;
  params: Record<string, string>;
}

export interface FakeTwilio {
  /** http://127.0.0.1:<port>: what TWILIO_API_BASE_URL points at. */
  baseUrl: string;
  requests: FakeTwilioRequest[];
  /** The next answers, in turn (default: 201 queued). */
  answers: Array<{ status: number; body: Record<string, unknown> }>;
  /** Holds every answer (requests are recorded as they arrive) until the returned function is called: a reply in flight. */
  hold(): () => void;
  close(): Promise<void>;
}

/**
 * A local stand-in for Twilio's Messages REST API over HTTP (port 0): it keeps every
 * request with its Basic auth and form parameters and answers as Twilio does
 * (201 with the message resource, or an error resource).
 */
export async function startFakeTwilio(): Promise<FakeTwilio> {
  const requests: FakeTwilioRequest[] = [];
  const answers: FakeTwilio['answers'] = [];
  let gate: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const [username = '', password = ''] = auth ? Buffer.from(auth, 'base64').toString('utf8').split(':') : [];
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      requests.push({ method: req.method ?? '', path: req.url ?? '', username, password, params });
      await gate;
      const accountSid = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/.exec(req.url ?? '')?.[1];
      res.setHeader('Content-Type', 'application/json');
      if (req.method !== 'POST' || !accountSid) {
        res.statusCode = 404;
        res.end(JSON.stringify({ code: 20404, message: 'not found', status: 404 }));
        return;
      }
      const answer = answers.shift();
      if (answer) {
        res.statusCode = answer.status;
        res.end(JSON.stringify(answer.body));
        return;
      }
      res.statusCode = 201;
      res.end(
        JSON.stringify({
          sid: `SM${randomBytes(16).toString('hex')}`,
          account_sid: accountSid,
          from: params.From,
          to: params.To,
          body: params.Body,
          status: 'queued',
          num_segments: '1',
          direction: 'outbound-api',
          api_version: '2010-04-01',
          date_created: new Date().toUTCString(),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    answers,
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
