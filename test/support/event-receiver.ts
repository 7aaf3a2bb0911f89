import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, after checking its signature with standardwebhooks' Webhook.verify. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  /** The verified, parsed body. */
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  at: number;
}

/** What the receiver answers: a status (and headers), or 'hang' to never answer. */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

export interface EventReceiver {
  url: string;
  received: Received[];
  /** Requests whose signature did not verify. */
  rejected: number;
  /** Chooses the answer to the n-th request (0-based). Default 200. */
  answer: (n: number, r: Received) => Answer;
  close(): Promise<void>;
}

/**
 * A real local HTTP receiver (port 0) that verifies every request with the secret, as
 * an integrator's would.
 * @param secret - the whsec_ secret it verifies with
 */
export async function startEventReceiver(secret: string): Promise<EventReceiver> {
  const webhook = new Webhook(secret);
  const hanging = new Set<ServerResponse>();
  let n = 0;
  const receiver: EventReceiver = {
    url: '',
    received: [],
    rejected: 0,
    answer: () => ({ status: 200 }),
    close: async () => {
      for (const res of hanging) {
        res.destroy();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let body: Received['body'];
      try {
        body = webhook.verify(raw, headers) as Received['body'];
      } catch {
        receiver.rejected += 1;
        res.writeHead(400).end();
        return;
      }
      const r: Received = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body, at: Date.now() };
      receiver.received.push(r);
      const answer = receiver.answer(n++, r);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(answer.status, answer.headers ?? {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

/** Waits until `check` holds, polling every 10 ms, or fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
