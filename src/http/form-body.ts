import type { Context, Middleware, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import { AppError } from '../errors.js';
import { flatQs } from '../twilio/form-params.js';

/**
 * Refuses a body sent with any Content-Encoding but identity, with 415, before a byte of it is
 * read. Twilio never compresses webhook bodies, so inflating one only ever serves an attacker:
 * a corrupt, truncated or trailing-junk stream made zlib throw (a 500), and a gzip bomb made us
 * inflate. Deciding on the header alone means none of that code runs. The staff API's JSON
 * bodies (16 kB at most) are refused the same way (`what`: 'body').
 * @param what - what the reason asks to send uncompressed
 */
export function refuseEncodedBody(what: 'form' | 'body' = 'form'): Middleware {
  return async function refuseEncodedBody(ctx: Context, next: Next): Promise<void> {
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding is not accepted: send the ${what} uncompressed`);
    }
    await next();
  };
}

/** 415 unless the body says it is application/x-www-form-urlencoded (Twilio's only format). */
export function requireForm(): Middleware {
  return async function requireForm(ctx: Context, next: Next): Promise<void> {
    if (!ctx.is('application/x-www-form-urlencoded')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'expected application/x-www-form-urlencoded');
    }
    await next();
  };
}

/**
 * Reads the form into ctx.request.body as FormParams (413 past `limitBytes`). co-body hands the
 * text to our flat parser instead of qs: literal keys into a null-prototype object, string
 * values, repeated keys kept apart. Nothing is collected into a plain object, so a parameter
 * named __proto__ or constructor is a parameter like any other, and the signature covers it.
 * @param limitBytes - BODY_LIMIT_BYTES
 */
export function readForm(limitBytes: number): Middleware {
  const parse = bodyParser({
    enableTypes: ['form'],
    formLimit: `${limitBytes}b`,
    qs: flatQs,
    queryString: {},
  } as unknown as bodyParser.Options);
  return function readForm(ctx: Context, next: Next): Promise<void> {
    return parse(ctx, next);
  };
}
