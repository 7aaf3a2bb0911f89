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
  /** The Message SID it answered with (201 only). */
  sid?: string;
}

/** A message the fake took (as Twilio's message list shows it). */
export interface FakeTwilioMessage {
  sid: string;
  account_sid: string;
  from: string;
  to: string;
  body: string;
  status: string;
  date_created: string;
  date_sent: string;
}

export interface FakeTwilio {
  /** http://127.0.0.1:<port>: what TWILIO_API_BASE_URL points at. */
  baseUrl: string;
  requests: FakeTwilioRequest[];
  /** Every message it took, also those whose answer is still held. */
  messages: FakeTwilioMessage[];
  /** The next answers, in turn (default: 201 queued). */
  answers: Array<{ status: number; body: Record<string, unknown> }>;
  /** Holds every answer (requests are recorded, and messages taken, as they arrive) until the returned function is called: a reply in flight, or one whose answer never comes. */
  hold(): () => void;
  close(): Promise<void>;
}

export interface FakeTwilioOptions {
  /** The port on 127.0.0.1 (default 0: any free one). */
  port?: number;
  /** Called once a message was taken and answered 201, with the request that sent it. */
  onMessage?: (message: FakeTwilioMessage, request: FakeTwilioRequest) => void;
}

const MESSAGES = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json(?:\?(.*))?$/;

/**
 * A local stand-in for Twilio's Messages REST API over HTTP (port 0): it keeps every
 * request with its Basic auth and form parameters and answers as Twilio does
 * (201 with the message resource, or an error resource); GET lists the messages it took,
 * filtered by To, From and DateSent> as Twilio's list is.
 */
export async function startFakeTwilio(options: FakeTwilioOptions = {}): Promise<FakeTwilio> {
  const requests: FakeTwilioRequest[] = [];
  const messages: FakeTwilioMessage[] = [];
  const answers: FakeTwilio['answers'] = [];
  let gate: Promise<void> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const [username = '', password = ''] = auth ? Buffer.from(auth, 'base64').toString('utf8').split(':') : [];
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      const record: FakeTwilioRequest = { method: req.method ?? '', path: req.url ?? '', username, password, params };
      requests.push(record);
      const route = MESSAGES.exec(req.url ?? '');
      const accountSid = route?.[1];
      res.setHeader('Content-Type', 'application/json');
      if (req.method === 'GET' && accountSid) {
        const query = new URLSearchParams(route[2] ?? '');
        const after = query.get('DateSent>');
        const found = messages.filter(
          (m) =>
            m.account_sid === accountSid &&
            (query.get('To') === null || m.to === query.get('To')) &&
            (query.get('From') === null || m.from === query.get('From')) &&
            (after === null || new Date(m.date_sent) >= new Date(after)),
        );
        res.statusCode = 200;
        res.end(JSON.stringify({ messages: found.toReversed(), next_page_uri: null, page: 0, page_size: 50, uri: req.url }));
        return;
      }
      if (req.method !== 'POST' || !accountSid) {
        res.statusCode = 404;
        res.end(JSON.stringify({ code: 20404, message: 'not found', status: 404 }));
        return;
      }
      const answer = answers.shift();
      let message: FakeTwilioMessage | undefined;
      if (!answer) {
        const now = new Date().toUTCString();
        message = { sid: `SM${randomBytes(16).toString('hex')}`, account_sid: accountSid, from: params.From ?? '', to: params.To ?? '', body: params.Body ?? '', status: 'queued', date_created: now, date_sent: now };
        messages.push(message);
      }
      await gate;
      if (answer) {
        res.statusCode = answer.status;
        res.end(JSON.stringify(answer.body));
        return;
      }
      res.statusCode = 201;
      record.sid = message?.sid;
      res.end(JSON.stringify({ ...message, num_segments: '1', direction: 'outbound-api', api_version: '2010-04-01' }));
      if (message) {
        options.onMessage?.(message, record);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    messages,
    answers,
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return release;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
