import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { requestBytes, runPacedLoad } from '../../../bench/lib/paced-load.js';
import type { RequestMix, SignedRequest } from '../../../bench/lib/request-mix.js';
import { RequestBytesPool } from '../../../bench/lib/request-pool.js';

function mixOf(requests: SignedRequest[]): RequestMix {
  let i = 0;
  return { next: () => requests[i++ % requests.length] as SignedRequest } as unknown as RequestMix;
}

const signed = (i: number, body: string): SignedRequest => ({ kind: 'free-text', messageSid: `SM${i}`, body, signature: `sig${i}` });

describe('bench request bytes pool', () => {
  it('when requests are rendered into the pool, then each comes back as the bytes requestBytes makes, in order, across chunks', () => {
    const requests = [signed(1, 'Body=S%C3%AD&MessageSid=SM1'), signed(2, `Body=${'x'.repeat(3_000_000)}`), signed(3, 'Body=caf\u00e9'), signed(4, `Body=${'y'.repeat(6_000_000)}`), signed(5, 'Body=HELP')];
    const pool = new RequestBytesPool('127.0.0.1:9', mixOf(requests), requests.length);
    expect(pool.size).to.equal(5);
    for (const req of requests) {
      expect((pool.take() as Buffer).equals(Buffer.from(requestBytes('127.0.0.1:9', req)))).to.equal(true);
    }
    expect(pool.take()).to.equal(undefined);
  });

  it('when the paced driver sends from the pool, then the server reads each body once', async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const requests = [1, 2, 3, 4].map((i) => signed(i, `Body=Sí ${i}&MessageSid=SM${i}`));
      const pool = new RequestBytesPool(`127.0.0.1:${port}`, mixOf(requests), 4);
      const res = await runPacedLoad(port, () => pool.take() as Buffer, { connections: 2, durationS: 0.1, rate: 40 });
      expect(res.requests).to.equal(4);
      expect(res.errors).to.equal(0);
      expect([...bodies].sort()).to.deep.equal(requests.map((r) => r.body).sort());
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
