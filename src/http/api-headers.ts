import type { Context, Next } from 'koa';

/**
 * What every staff API answer carries (JSON with PHI, refusals and errors alike): nothing
 * cached anywhere (`no-store`, as OWASP's REST Security Cheat Sheet asks for sensitive data),
 * no type sniffing, no framing, no referrer, no embedding from other origins, and a CSP that
 * lets a JSON answer opened in a browser run and load nothing. A route that serves a file
 * (media) sets its own `Content-Security-Policy` and `Cache-Control` after these.
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Sets API_SECURITY_HEADERS before the route runs, so that errors answered above it keep them. */
export function apiSecurityHeaders() {
  return async function securityHeaders(ctx: Context, next: Next): Promise<void> {
    ctx.set(API_SECURITY_HEADERS);
    await next();
  };
}
