/**
 * The sign-in pages' HTML: no PHI, no script, no inline style (the staff pages' CSP holds).
 * Every text passes through escapeHtml.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** One escaped value, or raw HTML made by these functions. */
class Html {
  constructor(readonly value: string) {}
}

/** A tagged template that escapes every interpolated value unless it is Html already. */
export function html(strings: TemplateStringsArray, ...values: (string | number | Html | readonly Html[])[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const part = v instanceof Html ? v.value : Array.isArray(v) ? (v as readonly Html[]).map((h) => h.value).join('') : escapeHtml(String(v));
    out += part + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** A whole page. */
export function authPage(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · clinic-sms</title>
</head>
<body>
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

export interface DemoPerson {
  email: string;
  name: string;
  clinics: readonly string[];
}

/** The development sign-in: one button per demo staff member of the staff file. */
export function demoSignInPage(people: readonly DemoPerson[], returnTo: string): string {
  const rows = people.map(
    (p) => html`<li><form method="post" action="/staff/auth/demo-sign-in"><input type="hidden" name="email" value="${p.email}"><input type="hidden" name="next" value="${returnTo}"><button type="submit">Sign in as ${p.name}</button> <span>(${p.email}; ${p.clinics.join(', ')})</span></form></li>`,
  );
  return authPage(
    'Demo sign-in',
    html`<p role="note"><strong>Development only.</strong> No identity provider is configured (STAFF_OIDC_ISSUER), so this server offers the demo staff of its staff file. It is refused when NODE_ENV=production.</p>
${people.length === 0 ? html`<p>The staff file lists nobody by email.</p>` : html`<ul>${rows}</ul>`}`,
  );
}

/** The signed-in person whom the staff file lists nowhere. */
export function noAccessPage(email: string | null): string {
  return authPage(
    'No access',
    html`<p>${email === null ? 'You are signed in' : `You are signed in as ${email}`}, but this clinic-sms server gives you access to no clinic. Ask your clinic's administrator to add you to the staff list.</p>
<form method="post" action="/staff/auth/sign-out"><button type="submit">Sign out</button></form>`,
  );
}

/** A sign-in that did not succeed, with a way to try again. */
export function signInFailedPage(reason: string): string {
  return authPage('Sign-in failed', html`<p>${reason}</p><p><a href="/staff/auth/sign-in">Sign in again</a></p>`);
}

/** After sign-out (or an idle timeout). */
export function signedOutPage(reason: string, signInHref: string): string {
  return authPage('Signed out', html`<p role="status">${reason}</p><p><a href="${signInHref}">Sign in again</a></p>`);
}

/** Who is signed in, with which clinics, and the sign-out button. */
export function accountPage(person: { name: string; email: string; clinics: readonly string[] }): string {
  return authPage(
    'Your account',
    html`<p>Signed in as <strong>${person.name}</strong> (${person.email}).</p>
<h2>Clinics</h2>
<ul>${person.clinics.map((c) => html`<li><a href="/staff/clinics/${encodeURIComponent(c)}">${c}</a></li>`)}</ul>
<form method="post" action="/staff/auth/sign-out"><button type="submit">Sign out</button></form>`,
  );
}
