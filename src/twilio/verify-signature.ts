import twilio from 'twilio';
import { AppError } from '../errors.js';
import { isFormParams, toSignatureParams, type FormParams } from './form-params.js';

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
 * (the current token, then one kept during rotation). twilio's own validateRequest does the
 * arithmetic, so repeated keys are signed as Twilio signs them (values deduplicated, sorted).
 */
export function isValidSignature(tokens: readonly string[], signature: string, url: string, form: FormParams): boolean {
  return signingToken(tokens, signature, url, form) !== null;
}

/**
 * The one of `tokens` that made `signature` (see isValidSignature), or null: what a callback
 * may touch depends on whose token signed it.
 */
export function signingToken(tokens: readonly string[], signature: string, url: string, form: FormParams): string | null {
  const params = toSignatureParams(form);
  return (
    tokens.find((token) => {
      try {
        return twilio.validateRequest(token, signature, url, params);
      } catch {
        // validateRequest calls new URL() on its fallback path; a URL it cannot parse is just not valid.
        return false;
      }
    }) ?? null
  );
}

/**
 * True when the form holds a pair Twilio's algorithm cannot see, which could therefore be
 * added to any signed request unseen: a parameter with an empty name and an empty value
 * (name and value are concatenated, so it adds nothing to what is signed), or the same name
 * and value twice (repeated values are signed once, as a set).
 */
function hasUnsignedPair(form: FormParams): boolean {
  if (form.values['']?.includes('')) {
    return true;
  }
  return form.repeated.some((key) => {
    const list = form.values[key] as string[];
    return new Set(list).size !== list.length;
  });
}

/**
 * What the check reads from a request. Koa's Context has all of it; typed by shape so that
 * nothing in twilio/ imports Koa (STYLE: nothing past http/ does), and so that the check can
 * be called with a plain object.
 */
export interface SignedRequestContext {
  get(field: string): string;
  readonly originalUrl: string;
  readonly host: string;
  readonly protocol: string;
  /** The parsed form (FormParams), as the body parser left it. */
  readonly request: { readonly body?: unknown };
}

export interface VerifySignatureOptions<C extends SignedRequestContext> {
  /** TWILIO_SIGNATURE_VALIDATION: off only for local trials. */
  enabled: boolean;
  /** PUBLIC_BASE_URL, or null to rebuild the URL from the request. */
  publicBaseUrl: string | null;
  /** The tokens that may have signed this request (by its To and AccountSid). */
  tokensFor(form: FormParams, ctx: C): readonly string[];
  /** Counts a refusal (metrics). */
  onRefused?(reason: 'missing' | 'invalid'): void;
}

/**
 * Middleware: X-Twilio-Signature must be Twilio's signature of the URL and of exactly the
 * parameters received. 400 when it is missing (as twilio-node's webhook() answers), 403 when it
 * does not match. Runs after the form is parsed and before anything reads it, so a parameter
 * the signature did not cover never reaches the pipeline.
 * @param options - see VerifySignatureOptions
 */
export function verifyTwilioSignature<C extends SignedRequestContext>(
  options: VerifySignatureOptions<C>,
): (ctx: C, next: () => Promise<unknown>) => Promise<void> {
  return async function verifyTwilioSignature(ctx: C, next: () => Promise<unknown>): Promise<void> {
    const form = ctx.request.body;
    if (!isFormParams(form)) {
      throw new AppError('BAD_REQUEST', 'empty form');
    }
    if (options.enabled) {
      const signature = ctx.get('X-Twilio-Signature');
      if (signature === '') {
        options.onRefused?.('missing');
        throw new AppError('MISSING_SIGNATURE', 'missing X-Twilio-Signature');
      }
      const url = signedUrl(options.publicBaseUrl, { originalUrl: ctx.originalUrl, host: ctx.host, protocol: ctx.protocol });
      if (hasUnsignedPair(form) || !isValidSignature(options.tokensFor(form, ctx), signature, url, form)) {
        options.onRefused?.('invalid');
        throw new AppError('BAD_SIGNATURE', 'invalid X-Twilio-Signature');
      }
    }
    await next();
  };
}
