import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ResponseReader, requestBytes, runPacedLoad } from '../../../bench/lib/paced-load.js';
import { WEBHOOK_PATH, type SignedRequest } from '../../../bench/lib/request-mix.js';

function fakeRequests(): () => SignedRequest {
  let i = 0;
  return () => {
    i += 1;
    return { kind: 'keyword', messageSid: `SM${i}`, body: `Body=CONFIRM&MessageSid=SM${i}`, signature: `sig${i}` };
  };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse, bodies: string[]) => void): Promise<{ server: Server; port: number; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      expect(req.method).to.equal('POST');
      expect(req.url).to.equal(WEBHOOK_PATH);
      expect(req.headers['x-twilio-signature']).to.match(/^sig\d+$/);
      bodies.push(body);
      handler(req, res, bodies);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, bodies };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('bench paced load', () => {
  it('when a response arrives in pieces, then the reader completes it only at the last body byte', () => {
    const reader = new ResponseReader();
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\ncontent-length: 5\r\n\r\nhello');
    for (const cut of [1, 10, 40, bytes.length - 3, bytes.length - 1]) {
      expect(reader.push(bytes.subarray(0, cut))).to.deep.equal({ kind: 'more' });
      expect(reader.push(bytes.subarray(cut))).to.deep.equal({ kind: 'done', response: { status: 200, close: false } });
    }
  });

  it('when a response has no Content-Length, or says Connection: close, then the reader says so', () => {
    const reader = new ResponseReader();
    expect(reader.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'))).to.deep.equal({ kind: 'malformed', reason: 'no content-length' });
    expect(reader.push(Buffer.from('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'))).to.deep.equal({ kind: 'done', response: { status: 403, close: true } });
  });

  it('when a request is built, then node:http reads the same body and headers', async () => {
    const { server, port, bodies } = await listen((_req, res) => res.end('ok'));
    try {
      const req: SignedRequest = { kind: 'keyword', messageSid: 'SM1', body: 'Body=Necesito%20cita&MessageSid=SM1', signature: 'sig1' };
      const res = await runPacedLoad(port, () => req, { connections: 1, durationS: 0.05, rate: 20 });
      expect(res.requests).to.equal(1);
      expect(bodies).to.deep.equal([req.body]);
      expect(requestBytes('h', req)).to.match(/\r\nContent-Length: 35\r\n\r\nBody=Necesito%20cita&MessageSid=SM1$/);
    } finally {
      await close(server);
    }
  });

  it('when the server keeps up, then every scheduled request is sent once and the rate is the target', async () => {
    const { server, port, bodies } = await listen((_req, res, all) => {
      res.statusCode = all.length % 10 === 0 ? 503 : 200;
      res.end('<Response/>');
    });
    try {
      const res = await runPacedLoad(port, fakeRequests(), { connections: 4, durationS: 1, rate: 200 });
      expect(res.requests).to.equal(200);
      expect(new Set(bodies).size).to.equal(200);
      expect(res.rps).to.be.within(190, 201);
      expect(res.non2xx).to.equal(20);
      expect(res.errors + res.timeouts).to.equal(0);
      expect(res.latencyMs.p50).to.be.below(20);
    } finally {
      await close(server);
    }
  });

  it('when the server stalls, then the requests scheduled during the stall are late by the wait, not missing', async () => {
    const { server, port } = await listen((_req, res, all) => {
      if (all.length === 10) {
        setTimeout(() => res.end('late'), 300);
      } else {
        res.end('ok');
      }
    });
    try {
      const res = await runPacedLoad(port, fakeRequests(), { connections: 1, durationS: 1, rate: 100 });
      expect(res.requests).to.equal(100);
      // about 30 requests were due during the 300 ms stall: their latency counts from when each was due
      expect(res.latencyMs.max).to.be.at.least(290);
      expect(res.latencyMs.p90).to.be.at.least(150);
      expect(res.latencyMs.p50).to.be.below(50);
    } finally {
      await close(server);
    }
  });

  it('when requests take longer than the timeout, then they count as timeouts and the run still ends', async () => {
    const { server, port } = await listen(() => undefined);
    try {
      const res = await runPacedLoad(port, fakeRequests(), { connections: 2, durationS: 0.1, rate: 20, timeoutS: 0.2 });
      expect(res.requests).to.equal(0);
      expect(res.timeouts).to.equal(2);
      expect(res.errors).to.equal(0);
    } finally {
      await close(server);
    }
  });
});
