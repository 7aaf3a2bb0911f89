import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

/**
 * The staff pages' Content-Security-Policy: everything from this origin only, no inline
 * script or style and no eval (htmx is configured for it: views/layout.tsx HTMX_CONFIG), no
 * framing, no <base>, forms post only here.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Headers on every staff page, partial and stream: the CSP, no caching of PHI anywhere
 * (`no-store`), no sniffing, no referrer, no framing.
 */
export function pageHeaders() {
  return async function staffPageHeaders(ctx: Context, next: Next): Promise<void> {
    ctx.set('Content-Security-Policy', PAGE_CSP);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    await next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a state-changing request that does not come from this origin (OWASP's CSRF
 * cheat sheet, "Fetch Metadata"): `Sec-Fetch-Site` must say same-origin; a browser that
 * sends none must send an `Origin` equal to ours. Cookies are SameSite=Lax too, but that
 * lets same-site (another subdomain) through.
 * @param origin - the pages' origin (PUBLIC_BASE_URL), or null: the request's own
 */
export function requireSameOrigin(origin: string | null) {
  return async function sameOrigin(ctx: Context, next: Next): Promise<void> {
    if (!SAFE_METHODS.has(ctx.method)) {
      const site = ctx.get('Sec-Fetch-Site');
      // Not ctx.origin: in Koa 3 that is the request's own Origin header.
      const expected = origin ?? `${ctx.protocol}://${ctx.host}`;
      if (site !== '') {
        if (site !== 'same-origin') {
          throw new AppError('FORBIDDEN', `cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 20)})`);
        }
      } else if (ctx.get('Origin') !== expected) {
        throw new AppError('FORBIDDEN', 'cross-site request refused (Origin missing or not this site)');
      }
    }
    await next();
  };
}
