import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real listener on 127.0.0.1, port 0, and how to close it. */
export interface Listening {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on an ephemeral port. Open sockets are destroyed on close, so a test never waits for
 * a client that keeps its connection.
 * @param server - a server that is not listening yet
 */
export async function listenOnPort0(server: http.Server): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One request with node's own client, so any method node can send (PROPFIND, TRACE, ...) and any
 * body bytes (a corrupt gzip stream) go out exactly as given. No keep-alive.
 */
export function sendRaw(
  port: number,
  request: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: request.method, path: request.path, headers: { connection: 'close', ...request.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}
