import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { expectAccessible, expectNoCspViolations, launchBrowser, openPage } from '../support/browser.js';
import { SERVICE_STORE_KINDS, startStaffService, type RunningStaffService } from '../support/staff-service.js';

describe('staff demo sign-in in a real browser (development, no identity provider)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let app: RunningStaffService;

  before(async () => {
    app = await startStaffService((await SERVICE_STORE_KINDS[0]!.make())!);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('when a page needs sign-in, then the marked demo sign-in offers the staff file\'s people; choosing one by keyboard signs in and comes back; every page passes axe with no CSP violation', async () => {
    const watched = await openPage(browser, app.baseUrl);
    const { page } = watched;
    try {
      await page.goto('/staff/auth/account');
      await page.getByRole('heading', { name: 'Demo sign-in' }).waitFor();
      expect(await page.getByRole('note').innerText()).to.include('Development only');
      await expectAccessible(page, 'the demo sign-in page');
      const button = page.getByRole('button', { name: 'Sign in as Nora North' });
      await button.focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(`${app.baseUrl}/staff/auth/account`);
      expect(await page.locator('main').innerText()).to.include('Signed in as Nora North (nora@northside.example)');
      expect(await page.getByRole('link', { name: 'northside' }).getAttribute('href')).to.equal('/staff/clinics/northside');
      expectNoCspViolations(watched);
    } finally {
      await watched.close();
    }
  });
});
