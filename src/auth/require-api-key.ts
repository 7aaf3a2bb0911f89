import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';
import { apiSecurityHeaders } from '../http/api-headers.js';
import { toAppError } from '../http/error-middleware.js';
import type { Accessor, AccessLogStore, AccessRecord } from './access-log.js';
import type { ApiKey, Scope } from './api-key.js';
import type { KeyRing } from './key-ring.js';

/** What the staff API's middleware leave on ctx.state. */
export interface StaffState {
  /** The server's own request id, and the client's X-Request-Id (create-app's requestContext). */
  requestId?: string;
  clientRequestId?: string;
  /** Whom the access record names when no key did (a signed-in person: src/staff/auth). */
  who?: Accessor;
  /** A refused request's key, when it held that key's right secret (revoked or expired). */
  refusedKeyId?: string;
  /** A list read: the conversations it returned. */
  conversationIds?: string[];
  /** A media read: the media id asked for. */
  mediaId?: string;
  json?: boolean;
  key?: ApiKey;
  /** The conversation a request concerned, for its access record. */
  conversationId?: string;
  /**
   * Set once the request did something that cannot be undone (Twilio took a text): when the
   * access record then cannot be written, the true answer still goes out and the failure is
   * reported as an error, instead of a 503 for an SMS that was sent.
   */
  committed?: boolean;
}

/**
 * The limit on failed key attempts per client address (MemoryFailedKeyAttempts): `check`
 * throws TOO_MANY_REQUESTS (429, with Retry-After) for an address that failed too often;
 * `failed` counts one more failure. Addresses come from ctx.ip, which honours TRUST_PROXY
 * (Koa's app.proxy). A request without any Authorization header is refused (401) before the
 * limit is asked: it guesses nothing.
 */
export interface FailedKeyAttempts {
  check(address: string, now: Date): Promise<void> | void;
  failed(address: string, now: Date): Promise<void> | void;
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * Authenticates `Authorization: Bearer <key>`: 401 when there is none or it matches no
 * key in force (unknown, revoked and wrong keys are refused alike, in constant time).
 * @param deps - the key ring; optionally the failed-attempt limit
 */
export function authenticateApiKey(deps: { ring: () => KeyRing; attempts?: FailedKeyAttempts; clock?: () => Date }) {
  const clock = deps.clock ?? ((): Date => new Date());
  return async function apiKey(ctx: Context, next: Next): Promise<void> {
    const header = ctx.get('Authorization');
    if (header === '') {
      throw new AppError('UNAUTHORIZED', 'missing API key (Authorization: Bearer <key>)');
    }
    await deps.attempts?.check(ctx.ip, clock());
    const presented = BEARER.exec(header)?.[1];
    const now = clock();
    const key = presented === undefined ? null : deps.ring().authenticate(presented, now);
    if (!key) {
      const refused = presented === undefined ? null : deps.ring().refusedKeyId(presented, now);
      if (refused !== null) {
        (ctx.state as StaffState).refusedKeyId = refused;
      }
      await deps.attempts?.failed(ctx.ip, clock());
      throw new AppError('UNAUTHORIZED', 'invalid API key');
    }
    (ctx.state as StaffState).key = key;
    await next();
  };
}

/**
 * Lets the request through when its key belongs to the URL's clinic and has `scope`.
 * Another clinic's resources answer 404, exactly as a clinic that does not exist.
 * @param scope - what the route needs
 */
export function requireScope(scope: Scope) {
  return async function scopeCheck(ctx: Context, next: Next): Promise<void> {
    const key = (ctx.state as StaffState).key;
    if (!key || key.clinicId !== (ctx.params as { clinicId?: string }).clinicId) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    if (!key.scopes.includes(scope)) {
      throw new AppError('FORBIDDEN', `this key lacks the ${scope} scope`);
    }
    await next();
  };
}

/**
 * Writes one access record per request, refusals included, before the response leaves:
 * when the trail cannot be written the request fails (503), so nothing is ever shown
 * without a record of who saw it; except after a committed action (StaffState.committed),
 * whose caller gets the truth while the failure is reported.
 * @param deps - the trail and the clock
 * @param route - the route pattern recorded (no ids or numbers in it)
 */
export function recordAccess(deps: { accessLog: AccessLogStore; clock: () => Date }, route: string) {
  return async function accessTrail(ctx: Context, next: Next): Promise<void> {
    const state = ctx.state as StaffState;
    state.json = true;
    let status: number;
    let failure: unknown;
    try {
      await next();
      status = ctx.status;
    } catch (err) {
      failure = err;
      status = toAppError(err).status;
    }
    const keyId = state.key?.id ?? state.refusedKeyId ?? null;
    const write = deps.accessLog.append({
      at: deps.clock(),
      keyId,
      clinicId: (ctx.params as { clinicId?: string }).clinicId ?? null,
      method: ctx.method,
      route,
      // The id as asked for, known or not (who tried what), cut short.
      conversationId: state.conversationId ?? (ctx.params as { id?: string }).id?.slice(0, 100) ?? null,
      status,
      ...requestFacts(ctx),
      who: state.who ?? (keyId === null ? null : { kind: 'api-key', keyId }),
      ...(state.conversationIds ? { conversationIds: state.conversationIds } : {}),
      ...(state.mediaId !== undefined ? { mediaId: state.mediaId } : {}),
    });
    if (state.committed && failure === undefined) {
      // The request did something that cannot be taken back (a text went out): its caller
      // learns that, and the missing record is reported as an error instead.
      await write.catch((err: unknown) => {
        ctx.app.emit('error', new AppError('STORE_UNAVAILABLE', `access record not written for ${ctx.method} ${route} (done: ${status})`, { cause: err }), ctx);
      });
    } else {
      await write;
    }
    if (failure !== undefined) {
      throw failure;
    }
  };
}

/**
 * The middleware every staff API route starts with, in order: the security headers, the
 * access record, the key, the clinic and scope. The media route gets the same from main.ts.
 * @param deps - the trail, the clock, the key ring; optionally the failed-attempt limit
 * @param route - the route pattern recorded
 * @param scope - what the route needs
 */
export function staffGuard(
  deps: { accessLog: AccessLogStore; clock: () => Date; ring: () => KeyRing; attempts?: FailedKeyAttempts },
  route: string,
  scope: Scope,
): Array<(ctx: Context, next: Next) => Promise<void>> {
  return [apiSecurityHeaders(), recordAccess(deps, route), authenticateApiKey(deps), requireScope(scope)];
}

/**
 * What every access record takes from the request itself: the server's request id and the
 * client's beside it, the client address and the user agent. Staff pages' records use it too.
 * @param ctx - the request (its state filled by create-app's requestContext)
 */
export function requestFacts(ctx: Context): Pick<AccessRecord, 'requestId' | 'clientRequestId' | 'clientAddress' | 'userAgent'> {
  const state = ctx.state as StaffState;
  const agent = ctx.get('User-Agent');
  return {
    requestId: state.requestId ?? '',
    clientRequestId: state.clientRequestId ?? null,
    clientAddress: ctx.ip === '' ? null : ctx.ip,
    userAgent: agent === '' ? null : agent.slice(0, 300),
  };
}
