import { createHash, randomBytes } from 'node:crypto';

/**
 * The session cookie: a random id (32 bytes, base64url) and nothing else. HttpOnly,
 * SameSite=Lax, Path=/; in production Secure with the `__Host-` prefix (the browser then
 * refuses it from plain http and from any subdomain or path scope).
 */
export interface CookieNames {
  session: string;
  signIn: string;
  /**
   * Set when a session ended by the idle or absolute limit, or by sign-out: the next sign-in
   * asks the identity provider to authenticate the person again (its own session may still
   * be open, and would otherwise sign whoever sits at the desk back in silently).
   */
  reauth: string;
  secure: boolean;
}

export function cookieNames(production: boolean): CookieNames {
  return production
    ? { session: '__Host-clinic-sms-staff', signIn: '__Host-clinic-sms-sign-in', reauth: '__Host-clinic-sms-reauth', secure: true }
    : { session: 'clinic-sms-staff', signIn: 'clinic-sms-sign-in', reauth: 'clinic-sms-reauth', secure: false };
}

/** A new random id for a cookie. */
export function newCookieId(): string {
  return randomBytes(32).toString('base64url');
}

/** The key a cookie id is stored under (its SHA-256, hex). */
export function storedId(cookieId: string): string {
  return createHash('sha256').update(cookieId).digest('hex');
}

const COOKIE_ID = /^[A-Za-z0-9_-]{43}$/;

/** The id a cookie value holds, or null when it is not one of ours. */
export function parseCookieId(value: string | undefined): string | null {
  return value !== undefined && COOKIE_ID.test(value) ? value : null;
}

/**
 * A Set-Cookie value. Written by hand because Koa's cookies refuse `secure` on a request
 * they do not see as https (behind a proxy without TRUST_PROXY), and the `__Host-` prefix
 * needs it regardless: the browser is on https even when this hop is not.
 * @param maxAgeSeconds - omitted: a browser-session cookie; 0: delete it
 */
export function setCookie(name: string, value: string, options: { secure: boolean; maxAgeSeconds?: number }): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) {
    parts.push('Secure');
  }
  if (options.maxAgeSeconds !== undefined) {
    parts.push(`Max-Age=${options.maxAgeSeconds}`);
    if (options.maxAgeSeconds === 0) {
      parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    }
  }
  return parts.join('; ');
}

/** How long the re-authentication mark lasts (the sessions' absolute limit): past it, any sign-in is one. */
export const REAUTH_MARK_SECONDS = 12 * 3600;
