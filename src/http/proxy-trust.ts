import { BlockList, isIP } from 'node:net';
import type { Context, Next } from 'koa';


/** A peer address as node reports it, with an IPv4-mapped IPv6 address (::ffff:1.2.3.4) as plain IPv4. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * Whether a peer address is one of the trusted proxies (TRUST_PROXY's addresses and CIDR
 * ranges); null when no list is given (nobody, or with TRUST_PROXY=1 anybody, is trusted).
 * @param proxies - config.trustedProxies
 */
export function trustedProxyCheck(proxies: readonly string[]): ((address: string | undefined) => boolean) | null {
  if (proxies.length === 0) {
    return null;
  }
  const list = new BlockList();
  for (const entry of proxies) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) {
      list.addAddress(address, family);
    } else {
      list.addSubnet(address, Number(prefix), family);
    }
  }
  return (address) => {
    if (address === undefined) {
      return false;
    }
    const a = plain(address);
    return list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * Reads X-Forwarded-For/Proto/Host only from the trusted proxies: from any other peer they
 * are removed before Koa sees them, so ctx.ip (the failed-key limit's address), ctx.protocol
 * and ctx.host are that peer's own. Someone who reaches an instance directly cannot pose as
 * another client, and every client behind the proxy is counted as itself.
 * @param trusted - trustedProxyCheck(config.trustedProxies)
 */
export function onlyTrustedProxyHeaders(trusted: (address: string | undefined) => boolean) {
  return async function onlyTrustedProxyHeaders(ctx: Context, next: Next): Promise<void> {
    if (!trusted(ctx.req.socket.remoteAddress)) {
      // The X-Forwarded-* headers Koa reads when app.proxy is on.
      delete ctx.req.headers['x-forwarded-for'];
      delete ctx.req.headers['x-forwarded-proto'];
      delete ctx.req.headers['x-forwarded-host'];
    }
    await next();
  };
}
