import twilio from 'twilio';
import type { FormParams } from './form-params.js';
import { toSignatureParams } from './form-params.js';

export interface RequestUrlParts {
  /** Path and query exactly as received, e.g. /v1/clinic/webhooks/twilio/sms?x=1 */
  originalUrl: string;
  /** Host header (or X-Forwarded-Host when proxies are trusted). */
  host: string;
  /** 'http' or 'https' (X-Forwarded-Proto when proxies are trusted). */
  protocol: string;
}

/**
 * The URL Twilio signed: PUBLIC_BASE_URL + path + query when configured, else the
 * request's own origin (proxy headers already applied by Koa only when trusted).
 * @param publicBaseUrl - configured origin (may include a path prefix) or null
 * @param parts - what the request says
 */
export function signedUrl(publicBaseUrl: string | null, parts: RequestUrlParts): string {
  if (publicBaseUrl !== null) {
    return `${publicBaseUrl}${parts.originalUrl}`;
  }
  return `${parts.protocol}://${parts.host}${parts.originalUrl}`;
}

/**
 * True when `signature` is Twilio's HMAC of `url` and the params under any of `tokens`
 * (the current token, then one kept during rotation).
 */
export function isValidSignature(tokens: readonly string[], signature: string, url: string, form: FormParams): boolean {
  const params = toSignatureParams(form);
  return tokens.some((token) => {
    try {
      return twilio.validateRequest(token, signature, url, params);
    } catch {
      // validateRequest calls new URL() on its fallback path; a URL it cannot parse is just not valid.
      return false;
    }
  });
}
