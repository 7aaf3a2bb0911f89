import type { Context, Next } from 'koa';
import { REAUTH_MARK_SECONDS, cookieNames, parseCookieId, setCookie } from './session-cookie.js';
import type { StaffSessions } from './staff-sessions.js';
import type { StaffPerson } from './staff-person.js';
import type { StaffAccessor } from './access-records.js';

/** What the sign-in middleware leaves on ctx.state. */
export interface PersonState {
  person?: StaffPerson;
  /** Whom the request's access record names (src/auth/access-log.ts's `who`). */
  who?: StaffAccessor;
}

/** ctx.state.person on a route behind requirePerson (throws when used elsewhere: a wiring bug). */
export function personOf(ctx: { state: unknown }): StaffPerson {
  const person = (ctx.state as PersonState).person;
  if (!person) {
    throw new Error('no signed-in person on this request: mount requirePerson before this route');
  }
  return person;
}

/** A browser's page load (GET HTML), as opposed to htmx, SSE or a form post. */
function isPageLoad(ctx: Context): boolean {
  return (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.get('HX-Request') === '' && !ctx.get('Accept').includes('text/event-stream');
}

/** The path to come back to after signing in (opaque ids only: pages carry no PHI in URLs). */
function returnPath(ctx: Context): string {
  return ctx.originalUrl.startsWith('/staff') ? ctx.originalUrl : '/staff';
}

export interface RequirePersonOptions {
  sessions: StaffSessions;
  production: boolean;
  /** false: the request does not count as activity (a stream's re-check). Default true. */
  touch?: boolean;
}

/**
 * Lets a request through with `ctx.state.person` when its session cookie names a live
 * session of someone the staff file lists. Otherwise a page load is sent to sign in
 * (303; "signed out after inactivity" when the session expired), and htmx, SSE and form
 * requests get 401 (htmx also `HX-Redirect`, so the browser goes to sign in). Someone
 * signed in whom the staff file no longer lists gets the "no access" page (403).
 */
export function requirePerson(options: RequirePersonOptions) {
  const names = cookieNames(options.production);
  const touch = options.touch ?? true;
  return async function requireStaffPerson(ctx: Context, next: Next): Promise<void> {
    const cookieId = parseCookieId(ctx.cookies.get(names.session));
    const found = await options.sessions.lookup(cookieId, touch);
    ctx.set('Cache-Control', 'no-store');
    if (!found.ok) {
      if (cookieId !== null) {
        ctx.append('Set-Cookie', setCookie(names.session, '', { secure: names.secure, maxAgeSeconds: 0 }));
      }
      if (found.reason === 'expired') {
        // Automatic logoff: the next sign-in must make the identity provider authenticate again.
        ctx.append('Set-Cookie', setCookie(names.reauth, '1', { secure: names.secure, maxAgeSeconds: REAUTH_MARK_SECONDS }));
      }
      const signIn = `/staff/auth/sign-in?${new URLSearchParams({ next: returnPath(ctx), ...(found.reason === 'expired' ? { expired: '1' } : {}) }).toString()}`;
      if (isPageLoad(ctx)) {
        ctx.status = 303;
        ctx.redirect(signIn);
        return;
      }
      ctx.status = 401;
      ctx.set('HX-Redirect', signIn);
      ctx.type = 'text/plain';
      ctx.body = found.reason === 'expired' ? 'signed out after inactivity: sign in again' : 'sign in first';
      return;
    }
    if (found.person.clinics.length === 0) {
      if (isPageLoad(ctx)) {
        ctx.status = 303;
        ctx.redirect('/staff/auth/no-access');
        return;
      }
      ctx.status = 403;
      ctx.set('HX-Redirect', '/staff/auth/no-access');
      ctx.type = 'text/plain';
      ctx.body = 'no access: the staff list gives you no clinic';
      return;
    }
    const state = ctx.state as PersonState;
    state.person = found.person;
    state.who = { kind: 'staff', issuer: found.person.issuer, subject: found.person.subject, email: found.person.email };
    await next();
  };
}
