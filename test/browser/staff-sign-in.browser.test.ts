import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { expectAccessible, expectNoCspViolations, launchBrowser, openPage, type WatchedPage } from '../support/browser.js';
import { startOidcProvider, type LocalOidcProvider } from '../support/oidc-provider.js';

import { SERVICE_STORE_KINDS, offsetClock, startStaffService, type RunningStaffService } from '../support/staff-service.js';

const USERS = [
  { login: 'maria', email: 'Maria@Downtown.example', emailVerified: true, name: 'Maria Lopez' },
  { login: 'eve', email: 'eve@downtown.example', emailVerified: false, name: 'Eve Unverified' },
  { login: 'olga', email: 'olga@elsewhere.example', emailVerified: true, name: 'Olga Outsider' },
];

/** Signs in at the local provider's development form as `login` (any password), then consents. */
async function signInAtProvider(watched: WatchedPage, login: string): Promise<void> {
  const { page } = watched;
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any-password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

for (const kind of SERVICE_STORE_KINDS) {
  describe(`staff sign-in in a real browser through a local OpenID provider (${kind.name})`, function () {
    this.timeout(60_000);
    let browser: Browser;
    let provider: LocalOidcProvider;
    let app: RunningStaffService;
    const clock = offsetClock();

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      provider = await startOidcProvider(USERS);
      app = await startStaffService(made, { STAFF_OIDC_ISSUER: provider.issuer, STAFF_OIDC_CLIENT_ID: provider.clientId, STAFF_OIDC_CLIENT_SECRET: provider.clientSecret }, { staffClock: clock.now });
      provider.allowRedirect(`${app.baseUrl}/staff/auth/callback`);
      browser = await launchBrowser();
    });

    after(async () => {
      await browser?.close();
      await app?.stop();
      await provider?.close();
    });

    it('when a listed person signs in, then code + PKCE (S256) + state + nonce bring them back to the page they asked for with a session; sign-out ends it on the server', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page, context } = watched;
      try {
        await page.goto('/staff/auth/account');
        expect(new URL(page.url()).origin).to.equal(provider.issuer);
        await signInAtProvider(watched, 'maria');
        await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
        await expect(page.getByRole('heading', { name: 'Your account' }).isVisible()).to.eventually.equal(true);
        expect(await page.locator('main').innerText()).to.include('Signed in as Maria Lopez (maria@downtown.example)');

        const auth = provider.authorizations.at(-1)!;
        expect(auth.get('response_type')).to.equal('code');
        expect(auth.get('code_challenge_method')).to.equal('S256');
        expect(auth.get('redirect_uri')).to.equal(`${app.baseUrl}/staff/auth/callback`);
        expect(auth.get('state')).to.be.a('string').with.length.above(20);
        expect(auth.get('nonce')).to.be.a('string').with.length.above(20);
        const verifier = provider.tokenRequests.at(-1)!.get('code_verifier')!;
        expect(createHash('sha256').update(verifier).digest('base64url')).to.equal(auth.get('code_challenge'));

        const cookies = await context.cookies(app.baseUrl);
        const session = cookies.find((c) => c.name === 'clinic-sms-staff')!;
        expect(session).to.include({ httpOnly: true, sameSite: 'Lax', path: '/' });
        expect(session.value).to.match(/^[A-Za-z0-9_-]{43}$/);
        expect(cookies.find((c) => c.name === 'clinic-sms-sign-in')).to.equal(undefined);
        await expectAccessible(page, 'the account page');

        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.waitForURL(`${app.baseUrl}/staff/auth/signed-out`);
        await expectAccessible(page, 'the signed-out page');
        // The old id no longer opens anything, even if someone kept it.
        const replay = await fetch(`${app.baseUrl}/staff/auth/account`, { headers: { Cookie: `clinic-sms-staff=${session.value}` }, redirect: 'manual' });
        expect(replay.status).to.equal(303);
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when the provider does not vouch for the email (email_verified false), then sign-in is refused, no session is made and the refusal is recorded', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page, context } = watched;
      try {
        await page.goto('/staff/auth/sign-in');
        await signInAtProvider(watched, 'eve');
        await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
        expect(await page.locator('main').innerText()).to.include('did not vouch for your email address');
        expect((await context.cookies(app.baseUrl)).map((c) => c.name)).not.to.include('clinic-sms-staff');
        await expectAccessible(page, 'the sign-in failed page');
        const records = await accessRecords(app, '/staff/auth/callback');
        expect(records.some((r) => r.status === 403 && r.who?.subject === 'eve' && r.who.email === 'eve@downtown.example')).to.equal(true);
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when someone the staff file lists nowhere signs in, then they get the plain "No access" page and the attempt is recorded with who they are', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page, context } = watched;
      try {
        await page.goto('/staff/auth/sign-in');
        await signInAtProvider(watched, 'olga');
        await page.getByRole('heading', { name: 'No access' }).waitFor();
        expect(await page.locator('main').innerText()).to.include('olga@elsewhere.example');
        expect((await context.cookies(app.baseUrl)).map((c) => c.name)).not.to.include('clinic-sms-staff');
        await expectAccessible(page, 'the no-access page');
        const records = await accessRecords(app, '/staff/auth/callback');
        expect(records.some((r) => r.status === 403 && r.who?.subject === 'olga' && r.who.issuer === provider.issuer)).to.equal(true);
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when the session sits idle for STAFF_SESSION_IDLE_MINUTES (15), then the next page load signs out and says why, and waits for the person to sign in again', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      try {
        await page.goto('/staff/auth/account');
        await signInAtProvider(watched, 'maria');
        await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
        clock.advance(14 * 60_000);
        await page.reload();
        await page.getByRole('heading', { name: 'Your account' }).waitFor();
        clock.advance(15 * 60_000 + 1000);
        await page.reload();
        await page.getByRole('heading', { name: 'Signed out' }).waitFor();
        expect(await page.getByRole('status').innerText()).to.equal('You were signed out after 15 minutes without activity.');
        expect(new URL(page.url()).origin).to.equal(app.baseUrl);
        await expectAccessible(page, 'the signed-out-after-inactivity page');
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when the session ran out by inactivity, or the person signed out, then the next sign-in asks the provider to authenticate again (prompt=login, max_age=0): its own open session does not sign the desk back in silently', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      const lastAsk = (): URLSearchParams => provider.authorizations.at(-1)!;
      /** Logs in at the provider's form; a consent already given is not asked again. */
      const loginAgain = async (): Promise<void> => {
        await page.locator('input[name="login"]').fill('maria');
        await page.locator('input[name="password"]').fill('any-password');
        await page.getByRole('button', { name: 'Sign-in' }).click();
        const consent = page.getByRole('button', { name: 'Continue' });
        await Promise.race([page.waitForURL(`${app.baseUrl}/staff/auth/account`), consent.waitFor().then(() => consent.click())]);
        await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
      };
      try {
        await page.goto('/staff/auth/account');
        await signInAtProvider(watched, 'maria');
        await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
        expect(lastAsk().get('prompt'), 'a first sign-in uses the provider\'s session as it is').to.equal(null);
        expect(lastAsk().get('max_age')).to.equal(null);

        clock.advance(15 * 60_000 + 1000);
        await page.reload();
        await page.getByRole('heading', { name: 'Signed out' }).waitFor();
        await page.getByRole('link', { name: 'Sign in again' }).click();
        // The provider still has Maria's session; asked to authenticate again, it shows its form.
        await page.locator('input[name="login"]').waitFor();
        expect(lastAsk().get('prompt')).to.equal('login');
        expect(lastAsk().get('max_age')).to.equal('0');
        await loginAgain();
        await page.getByRole('heading', { name: 'Your account' }).waitFor();

        // A sign-out marks the browser the same way: whoever signs in next authenticates at the provider.
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { name: 'Signed out' }).waitFor();
        await page.goto('/staff/auth/account');
        await page.locator('input[name="login"]').waitFor();
        expect(lastAsk().get('prompt'), 'after a sign-out too').to.equal('login');
        await loginAgain();
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when the provider ignores the request to authenticate again and answers from its open session, then the sign-in is refused and no session is made', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      try {
        await page.goto('/staff/auth/account');
        await signInAtProvider(watched, 'maria');
        await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { name: 'Signed out' }).waitFor();
        provider.ignoreReauthentication(true);
        await page.goto('/staff/auth/account');
        await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
        expect(provider.authorizations.at(-1)!.get('prompt'), 'it was asked').to.equal('login');
        expect(await page.locator('main').innerText()).to.include('did not ask you to sign in again');
        const cookies = await page.context().cookies();
        expect(cookies.some((c) => c.name === 'clinic-sms-staff'), 'no session').to.equal(false);
        expect(cookies.find((c) => c.name === 'clinic-sms-reauth')?.value, 'the mark stays: the next sign-in asks again').to.equal('1');
        expectNoCspViolations(watched);
      } finally {
        provider.ignoreReauthentication(false);
        await watched.close();
      }
    });

    it('when the callback is replayed (the same code and state again), then it is refused: a sign-in is used once', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      try {
        let callbackUrl = '';
        page.on('request', (r) => {
          if (r.url().startsWith(`${app.baseUrl}/staff/auth/callback`)) {
            callbackUrl = r.url();
          }
        });
        await page.goto('/staff/auth/account');
        await signInAtProvider(watched, 'maria');
        await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
        expect(callbackUrl).not.to.equal('');
        await page.goto(callbackUrl);
        await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
        expect(await page.locator('main').innerText()).to.include('expired or was already used');
      } finally {
        await watched.close();
      }
    });
  });
}

async function accessRecords(app: RunningStaffService, route: string): Promise<Array<{ status: number; who?: { issuer: string; subject: string; email: string | null } }>> {
  const out = [];
  for await (const r of app.service.staffAuth.accessLog.list({ since: new Date(0), until: new Date(8.64e15) })) {
    if (r.route === route) {
      out.push(r as unknown as { status: number; who?: { issuer: string; subject: string; email: string | null } });
    }
  }
  return out;
}
