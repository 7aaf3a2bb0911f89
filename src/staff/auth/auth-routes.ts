import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import type { Context, Middleware, Next } from 'koa';
import type { AccessLogStore } from '../../auth/access-log.js';
import type { Logger } from '../../logger.js';
import { recordSignInAccess } from './access-records.js';
import { accountPage, demoSignInPage, noAccessPage, signedOutPage, signInFailedPage } from './auth-pages.js';
import { personOf } from './require-person.js';
import { OidcClient } from './oidc-client.js';
import { REAUTH_MARK_SECONDS, cookieNames, parseCookieId, setCookie } from './session-cookie.js';
import { SIGN_IN_FLOW_MS, type StaffSessions } from './staff-sessions.js';
import type { StaffDirectory } from './staff-file.js';
import { DEMO_ISSUER } from './staff-person.js';

export const SIGN_IN_PATH = '/staff/auth/sign-in';
export const CALLBACK_PATH = '/staff/auth/callback';
export const SIGN_OUT_PATH = '/staff/auth/sign-out';
export const DEMO_SIGN_IN_PATH = '/staff/auth/demo-sign-in';
export const NO_ACCESS_PATH = '/staff/auth/no-access';
export const SIGNED_OUT_PATH = '/staff/auth/signed-out';
export const ACCOUNT_PATH = '/staff/auth/account';

export interface AuthRoutesDeps {
  sessions: StaffSessions;
  directory: () => StaffDirectory;
  accessLog: AccessLogStore;
  logger: Logger;
  production: boolean;
  /** The callback's origin (PUBLIC_BASE_URL); null: the request's own origin. */
  publicBaseUrl: string | null;
  /** null: no identity provider configured (the demo sign-in, outside production). */
  oidc: OidcClient | null;
  clock: () => Date;
  /** The signed-in check (for the account page). */
  requirePerson: Middleware;
}

/** Clock skew allowed between this server and the identity provider when checking auth_time. */
const REAUTH_SKEW_SECONDS = 60;

/** A /staff path to return to after signing in; anything else (another site, //host) is /staff. */
export function safeReturnPath(raw: unknown): string {
  return typeof raw === 'string' && /^\/staff(?:[/?#]|$)/.test(raw) && !raw.includes('\\') ? raw : '/staff';
}

/**
 * A state change must come from our own pages (OWASP: Fetch Metadata, else Origin):
 * a cross-site form cannot sign someone in or out.
 */
function sameOrigin(publicBaseUrl: string | null) {
  return async function requireSameOrigin(ctx: Context, next: Next): Promise<void> {
    const site = ctx.get('Sec-Fetch-Site');
    const origin = ctx.get('Origin');
    const expected = publicBaseUrl === null ? `${ctx.protocol}://${ctx.host}` : new URL(publicBaseUrl).origin;
    const ok = site !== '' ? site === 'same-origin' : origin !== '' && origin === expected;
    if (!ok) {
      ctx.status = 403;
      ctx.type = 'text/plain';
      ctx.body = 'refused: not sent from this site (Sec-Fetch-Site / Origin)';
      return;
    }
    await next();
  };
}

/** The sign-in pages' policy: nothing but our own files, no inline script or style, no framing. */
export const AUTH_PAGES_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function page(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Security-Policy', AUTH_PAGES_CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.body = body;
}

/**
 * The routes under /staff/auth: sign-in (the provider's, or the demo one in development),
 * the provider's callback, sign-out, and the "no access" and "signed out" pages.
 */
export function createAuthRouter(deps: AuthRoutesDeps): Router {
  const router = new Router();
  const names = cookieNames(deps.production);
  const form = bodyParser({ enableTypes: ['form'], formLimit: '4kb' });
  const guard = sameOrigin(deps.publicBaseUrl);
  const redirectUri = (ctx: Context): string => `${deps.publicBaseUrl ?? `${ctx.protocol}://${ctx.host}`}${CALLBACK_PATH}`;
  const demoAllowed = deps.oidc === null && !deps.production;

  const startSession = async (ctx: Context, identity: Parameters<StaffSessions['start']>[0], returnTo: string): Promise<void> => {
    // A fresh id at every sign-in (no fixation); a session the browser had before ends.
    const previous = parseCookieId(ctx.cookies.get(names.session));
    if (previous !== null) {
      await deps.sessions.end(previous);
    }
    const cookieId = await deps.sessions.start(identity);
    ctx.append('Set-Cookie', setCookie(names.session, cookieId, { secure: names.secure }));
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  router.get(SIGN_IN_PATH, async function signIn(ctx) {
    const returnTo = safeReturnPath(ctx.query.next);
    if (ctx.query.expired === '1') {
      // Automatic logoff says so and waits for the person: no silent round trip through the provider.
      page(ctx, 200, signedOutPage(`You were signed out after ${Math.round(deps.sessions.idleMs / 60000)} minutes without activity.`, `${SIGN_IN_PATH}?${new URLSearchParams({ next: returnTo }).toString()}`));
      return;
    }
    if (deps.oidc) {
      // After an automatic logoff or a sign-out in this browser, the provider must authenticate again.
      const reauth = ctx.cookies.get(names.reauth) === '1';
      // The wall clock, not the sessions' clock: auth_time comes from the provider's.
      const flow = OidcClient.newFlow(returnTo, reauth ? Math.floor(Date.now() / 1000) : undefined);
      let url: URL;
      try {
        url = await deps.oidc.authorizationUrl(flow, redirectUri(ctx));
      } catch (err) {
        deps.logger.error({ err: { code: (err as { code?: string }).code } }, 'staff sign-in: identity provider discovery failed');
        page(ctx, 502, signInFailedPage('The identity provider cannot be reached. Try again in a minute.'));
        return;
      }
      const cookieId = await deps.sessions.beginSignIn(flow);
      ctx.append('Set-Cookie', setCookie(names.signIn, cookieId, { secure: names.secure, maxAgeSeconds: SIGN_IN_FLOW_MS / 1000 }));
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 303;
      ctx.redirect(url.href);
      return;
    }
    if (!demoAllowed) {
      page(ctx, 404, signInFailedPage('Staff sign-in is not configured on this server (STAFF_OIDC_ISSUER). The demo sign-in is refused when NODE_ENV=production.'));
      return;
    }
    const directory = deps.directory();
    const people = directory.entries.flatMap((e) => ('email' in e ? [{ email: e.email, name: e.name ?? e.email, clinics: e.clinics }] : []));
    page(ctx, 200, demoSignInPage(people, returnTo));
  });

  router.post(DEMO_SIGN_IN_PATH, guard, form, async function demoSignIn(ctx) {
    if (!demoAllowed) {
      page(ctx, deps.production ? 403 : 404, signInFailedPage(deps.production ? 'The demo sign-in is refused when NODE_ENV=production.' : 'This server signs in through its identity provider.'));
      return;
    }
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const email = typeof body?.email === 'string' ? body.email.toLowerCase() : '';
    const entry = deps.directory().entries.find((e) => 'email' in e && e.email === email);
    if (!entry || !('email' in entry)) {
      await recordSignInAccess(deps.accessLog, ctx, { at: deps.clock(), route: DEMO_SIGN_IN_PATH, status: 403, who: null });
      page(ctx, 403, signInFailedPage('That person is not on the staff list.'));
      return;
    }
    await startSession(ctx, { issuer: DEMO_ISSUER, subject: entry.email, email: entry.email, name: entry.name ?? entry.email }, safeReturnPath(body?.next));
  });

  router.get(CALLBACK_PATH, async function callback(ctx) {
    const refuse = async (status: number, reason: string, who: { issuer: string; subject: string; email: string | null } | null): Promise<void> => {
      await recordSignInAccess(deps.accessLog, ctx, { at: deps.clock(), route: CALLBACK_PATH, status, who });
      page(ctx, status, signInFailedPage(reason));
    };
    ctx.append('Set-Cookie', setCookie(names.signIn, '', { secure: names.secure, maxAgeSeconds: 0 }));
    if (!deps.oidc) {
      page(ctx, 404, signInFailedPage('This server has no identity provider configured.'));
      return;
    }
    const flow = await deps.sessions.takeSignIn(parseCookieId(ctx.cookies.get(names.signIn)));
    if (!flow) {
      await refuse(400, 'This sign-in expired or was already used. Sign in again.', null);
      return;
    }
    if (typeof ctx.query.error === 'string') {
      await refuse(403, 'Your identity provider did not sign you in.', null);
      return;
    }
    let claims;
    try {
      const callbackUrl = new URL(redirectUri(ctx));
      callbackUrl.search = ctx.querystring;
      claims = await deps.oidc.finish(flow, callbackUrl);
    } catch (err) {
      const e = err as { code?: string; error?: string; name?: string };
      deps.logger.warn({ err: { code: e.code, error: e.error, name: e.name } }, 'staff sign-in: the callback did not check out');
      await refuse(400, 'The sign-in response did not check out. Sign in again.', null);
      return;
    }
    const who = { issuer: claims.issuer, subject: claims.subject, email: claims.email };
    // A provider asked to authenticate again must say it did (auth_time at or after the ask;
    // a minute's clock skew allowed): one that answered from its old session is refused.
    if (flow.reauthSince !== undefined && (claims.authTime === null || claims.authTime < flow.reauthSince - REAUTH_SKEW_SECONDS)) {
      await refuse(403, 'Your identity provider did not ask you to sign in again after you were signed out. Sign in again; if this repeats, ask your administrator.', who);
      return;
    }
    if (claims.email === null || !claims.emailVerified) {
      await refuse(403, 'Your identity provider did not vouch for your email address (email_verified). Ask your administrator.', who);
      return;
    }
    const directory = deps.directory();
    if (directory.clinicsOf(claims.email).length === 0) {
      await recordSignInAccess(deps.accessLog, ctx, { at: deps.clock(), route: CALLBACK_PATH, status: 403, who });
      page(ctx, 403, noAccessPage(claims.email));
      return;
    }
    ctx.append('Set-Cookie', setCookie(names.reauth, '', { secure: names.secure, maxAgeSeconds: 0 }));
    await startSession(ctx, { issuer: claims.issuer, subject: claims.subject, email: claims.email, name: claims.name ?? directory.nameOf(claims.email) ?? claims.email }, flow.returnTo);
  });

  router.post(SIGN_OUT_PATH, guard, async function signOut(ctx) {
    const cookieId = parseCookieId(ctx.cookies.get(names.session));
    if (cookieId !== null) {
      await deps.sessions.end(cookieId);
    }
    ctx.append('Set-Cookie', setCookie(names.session, '', { secure: names.secure, maxAgeSeconds: 0 }));
    // The provider's own session may still be open: the next sign-in here asks it to authenticate again.
    ctx.append('Set-Cookie', setCookie(names.reauth, '1', { secure: names.secure, maxAgeSeconds: REAUTH_MARK_SECONDS }));
    ctx.status = 303;
    ctx.redirect(SIGNED_OUT_PATH);
  });

  router.get(SIGNED_OUT_PATH, function signedOut(ctx) {
    page(ctx, 200, signedOutPage('You are signed out.', SIGN_IN_PATH));
  });

  router.get(NO_ACCESS_PATH, async function noAccess(ctx) {
    const found = await deps.sessions.lookup(parseCookieId(ctx.cookies.get(names.session)), false);
    const who = found.ok ? { issuer: found.person.issuer, subject: found.person.subject, email: found.person.email } : null;
    await recordSignInAccess(deps.accessLog, ctx, { at: deps.clock(), route: NO_ACCESS_PATH, status: 403, who });
    page(ctx, 403, noAccessPage(found.ok ? found.person.email : null));
  });

  router.get(ACCOUNT_PATH, deps.requirePerson, function account(ctx) {
    page(ctx, 200, accountPage(personOf(ctx)));
  });

  return router;
}
