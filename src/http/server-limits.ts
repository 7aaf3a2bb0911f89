import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/load-config.js';
import { trustedProxyCheck } from './proxy-trust.js';

/** How long one client may take, and how many connections one address may hold open. */
export interface ServerLimits {
  /** Time to receive a request's headers, ms (node's default is 60 s). */
  headersTimeoutMs: number;
  /** Time to receive a whole request, body included, ms (node's default is 300 s). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests, ms. */
  keepAliveTimeoutMs: number;
  /** Connections one remote address may hold open at once; 0: no limit. */
  maxConnectionsPerAddress: number;
  /** Addresses the per-address limit does not apply to: the trusted proxies, which carry every client's connections. */
  exempt?: (address: string | undefined) => boolean;
  /**
   * How often node looks for requests past their timeouts, ms. Node's default (30 s) would let a
   * 10 s header timeout run to 40 s; a scan a second costs one pass over the open connections.
   */
  checkIntervalMs: number;
}

/**
 * The limits the config asks for.
 * @param config - HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, MAX_CONNECTIONS_PER_ADDRESS
 */
export function serverLimits(config: Pick<Config, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnectionsPerAddress'> & Partial<Pick<Config, 'trustProxy' | 'trustedProxies'>>): ServerLimits {
  const trusted = config.trustProxy ? trustedProxyCheck(config.trustedProxies ?? []) : null;
  return {
    ...(trusted ? { exempt: trusted } : {}),
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    checkIntervalMs: 1000,
  };
}

/**
 * An HTTP server that does not let slow or greedy clients hold it. Twilio gives up on a webhook
 * after 15 s, so a request still arriving after 20 s (or headers after 10 s) is never Twilio's:
 * node answers 408 and closes. Connections beyond the per-address limit are closed as they open.
 * Only main.ts listens; tests use this with short limits on port 0.
 * @param handler - app.callback()
 * @param limits - see ServerLimits
 */
export function createHttpServer(handler: http.RequestListener, limits: ServerLimits): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    handler,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  limitConnectionsPerAddress(server, limits.maxConnectionsPerAddress, limits.exempt ?? ((): boolean => false));
  server.on('connect', answerConnect(handler));
  return server;
}

/** Where a counted connection keeps the way to give its slot back (releaseAddressSlot). */
const RELEASE = Symbol('clinic-sms.releaseAddressSlot');

type CountedSocket = Duplex & { remoteAddress?: string; [RELEASE]?: () => void };

/**
 * Takes a connection out of its address's count, for a connection that has become a signed-in
 * staff page's live stream: those stay open for hours, one per tab, and a clinic's tabs share
 * one address behind its router or proxy, so counting them would lock the desk out of every
 * other request at MAX_CONNECTIONS_PER_ADDRESS tabs. A stream is only opened after the session
 * is checked; the cap stays for everything anonymous (slow or greedy clients).
 * @param socket - the request's socket (ctx.req.socket)
 */
export function releaseAddressSlot(socket: Duplex): void {
  (socket as CountedSocket)[RELEASE]?.();
}

/**
 * Closes a new connection when its address already holds `max` open (a small counter per
 * address, dropped when it reaches zero). Behind a proxy every connection has the proxy's
 * address: the proxies TRUST_PROXY lists are exempt (they carry every client's connections,
 * and limit them themselves); with TRUST_PROXY=1, raise the limit or set 0. Signed-in live
 * streams give their slot back (releaseAddressSlot).
 */
function limitConnectionsPerAddress(server: http.Server, max: number, exempt: (address: string | undefined) => boolean): void {
  if (max <= 0) {
    return;
  }
  const open = new Map<string, number>();
  server.on('connection', (socket: CountedSocket) => {
    const address = socket.remoteAddress;
    if (address === undefined || exempt(address)) {
      return;
    }
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    let counted = true;
    const release = (): void => {
      if (!counted) {
        return;
      }
      counted = false;
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) {
        open.delete(address);
      } else {
        open.set(address, left);
      }
    };
    socket[RELEASE] = release;
    socket.once('close', release);
  });
}

/**
 * Node hands CONNECT to the 'connect' event and, with no listener, drops the connection without
 * an answer. Routed through the app like any method, it gets 405 with Allow (or 404), then the
 * connection closes: no route here is a tunnel.
 */
function answerConnect(handler: http.RequestListener): (req: http.IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as never);
    res.once('finish', () => {
      res.detachSocket(socket as never);
      socket.end();
    });
    socket.once('error', () => socket.destroy());
    handler(req, res);
  };
}
