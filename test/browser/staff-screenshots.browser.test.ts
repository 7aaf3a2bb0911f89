import { mkdtemp, mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { expectAccessible, expectNoCspViolations, launchBrowser, openPage } from '../support/browser.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { DOWNTOWN_ACCOUNT_SID } from '../support/staff-app.js';
import { SERVICE_STORE_KINDS, startStaffService, type RunningStaffService } from '../support/staff-service.js';
import { twilioAt } from '../support/staff-webhooks.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';

/**
 * The screenshots in docs/ (the README's front-desk section, docs/staff-pages.md): made from the
 * shipped demo data (config/clinics.yaml, config/demo-data.yaml, config/staff.yaml; the rules' fixture copy)
 * as a receptionist would see them. `UPDATE_SCREENSHOTS=1 npx mocha …` writes them into
 * docs/images/; otherwise they go to a temporary folder and are only checked.
 */
describe('screenshots of the front desk from the demo data', function () {
  this.timeout(90_000);
  let browser: Browser;
  let app: RunningStaffService;
  let fake: FakeTwilio;
  let out: string;

  before(async () => {
    out = process.env.UPDATE_SCREENSHOTS === '1' ? join('docs', 'images') : await mkdtemp(join(tmpdir(), 'staff-screens-'));
    await mkdir(out, { recursive: true });
    fake = await startFakeTwilio();
    app = await startStaffService((await SERVICE_STORE_KINDS[0]!.make())!, {
      CLINICS_FILE: 'config/clinics.yaml',
      RULES_DIR: FIXTURE_RULES_DIR,
      SEED_FILE: 'config/demo-data.yaml',
      STAFF_FILE: 'config/staff.yaml',
      TWILIO_API_BASE_URL: fake.baseUrl,
      TWILIO_ACCOUNT_SID: DOWNTOWN_ACCOUNT_SID,
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await fake?.close();
    if (process.env.UPDATE_SCREENSHOTS !== '1') {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('when the demo patients write in, then the list and a thread are captured (and pass axe with no CSP violation)', async () => {
    const twilio = twilioAt(app.baseUrl);
    await twilio.text('+13125550142', 'Running 10 minutes late for my appointment, sorry!', { To: '+13125550100' });
    await twilio.text('+13125550177', 'Can Dylan come in earlier? He has school at 1.', { To: '+13125550100' });
    await twilio.text('+13125550199', 'Hi, I am new in town. Do you take new patients?', { To: '+13125550100' });
    const watched = await openPage(browser, app.baseUrl);
    const { page } = watched;
    try {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto('/staff');
      await page.getByRole('button', { name: /Sign in as Maria/ }).click();
      await page.waitForURL(/\/staff\/clinics\/downtown/);
      await page.goto('/staff/clinics/downtown?view=all');
      const rows = page.getByRole('list', { name: 'Conversations' }).getByRole('link');
      await rows.nth(2).waitFor();
      await page.screenshot({ path: join(out, 'staff-inbox.png') });
      await rows.filter({ hasText: 'Nguyen' }).first().click();
      await page.getByRole('list', { name: 'Messages, oldest first' }).waitFor();
      await page.getByLabel('Reply to the patient by SMS').fill('Yes, 11:30 works. See you then!');
      await page.getByRole('button', { name: 'Send reply' }).click();
      await page.locator('.entry.outbound').first().waitFor();
      await page.screenshot({ path: join(out, 'staff-thread.png') });
      await expectAccessible(page, 'the demo thread');
      expectNoCspViolations(watched);
      for (const name of ['staff-inbox.png', 'staff-thread.png']) {
        expect((await stat(join(out, name))).size, name).to.be.above(10_000);
      }
    } finally {
      await watched.close();
    }
  });
});
