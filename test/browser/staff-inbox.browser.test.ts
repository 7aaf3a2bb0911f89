import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { expectAccessible, expectNoCspViolations, launchBrowser, openPage, type WatchedPage } from '../support/browser.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { DOWNTOWN_ACCOUNT_SID } from '../support/staff-app.js';
import { SERVICE_STORE_KINDS, startStaffService, type RunningStaffService } from '../support/staff-service.js';
import { twilioAt } from '../support/staff-webhooks.js';
import { addPatient, uniquePhone } from '../support/test-app.js';

/** Generous: the live path's speed is the bench's business (≤ 2 s p99), not a timed test's. */
const LIVE_TIMEOUT_MS = 10_000;

/** Signs in through the demo sign-in as one of the fixture staff file's people. */
async function signIn(page: Page, name: string): Promise<void> {
  await page.goto('/staff');
  await page.getByRole('button', { name: `Sign in as ${name}` }).click();
  await page.waitForURL(/\/staff\/clinics\//);
}

/** A row of the conversation list, by the last digits of the sender's number. */
const rowFor = (page: Page, phone: string) => page.getByRole('list', { name: 'Conversations' }).getByRole('link', { name: new RegExp(phone.slice(-4)) });

/** The href of the focused element, or its tag name (focus checks without the DOM's types). */
const focused = (page: Page): Promise<string> => page.evaluate("document.activeElement ? (document.activeElement.getAttribute('href') || document.activeElement.id || document.activeElement.tagName) : ''") as Promise<string>;

/** Marks the document, so a test can tell a live update from a reload (a reload loses the mark). */
const markDocument = (page: Page): Promise<unknown> => page.evaluate('window.__sameDocument = true');
const sameDocument = async (page: Page): Promise<boolean> => (await page.evaluate('window.__sameDocument === true')) as boolean;

for (const kind of SERVICE_STORE_KINDS) {
  describe(`the front desk's inbox in a real browser (${kind.name})`, function () {
    this.timeout(90_000);
    let browser: Browser;
    let app: RunningStaffService;
    let fake: FakeTwilio;
    let twilio: ReturnType<typeof twilioAt>;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      fake = await startFakeTwilio();
      app = await startStaffService(made, { TWILIO_API_BASE_URL: fake.baseUrl, TWILIO_ACCOUNT_SID: DOWNTOWN_ACCOUNT_SID });
      twilio = twilioAt(app.baseUrl);
      browser = await launchBrowser();
    });

    after(async () => {
      await browser?.close();
      await app?.stop();
      await fake?.close();
    });

    it('when an unknown number texts, then it appears live in Unassigned; a reply reaches the fake Twilio once (idempotent), the status callback marks it delivered on screen, resolve, and a new text reopens it live', async () => {
      const watched: WatchedPage = await openPage(browser, app.baseUrl);
      const { page } = watched;
      try {
        await signIn(page, 'Maria Front-Desk');
        expect(new URL(page.url()).pathname).to.equal('/staff/clinics/downtown');
        await expectAccessible(page, 'the inbox (Unassigned)');
        await markDocument(page);

        const phone = uniquePhone();
        await twilio.text(phone, 'Hi, is the clinic open on Saturday?');
        const row = rowFor(page, phone);
        await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
        expect(await sameDocument(page), 'the row came live, without a reload').to.equal(true);

        await row.click();
        await page.getByRole('heading', { level: 1 }).waitFor();
        await page.getByRole('list', { name: 'Messages, oldest first' }).getByText('Hi, is the clinic open on Saturday?').waitFor();
        await expectAccessible(page, 'an open thread');

        const replyText = `Yes, 9 to 12. (${Date.now()})`;
        let replyForm = '';
        page.on('request', (r) => {
          if (r.method() === 'POST' && /\/replies$/.test(new URL(r.url()).pathname)) {
            replyForm = r.postData() ?? '';
          }
        });
        await page.getByLabel('Reply to the patient by SMS').fill(replyText);
        await page.getByRole('button', { name: 'Send reply' }).click();
        await page.locator('.entry.outbound', { hasText: replyText }).waitFor();
        const sent = fake.requests.filter((r) => r.params.Body === replyText);
        expect(sent).to.have.length(1);
        expect(sent[0]!.params.To).to.equal(phone);
        const key = new URLSearchParams(replyForm).get('idempotencyKey');
        expect(key, 'the form carries an Idempotency-Key').to.match(/^[\w-]{16,}$/);
        // The same form sent again (a double submit, a retry): the patient gets one text.
        const again = await page.request.post(new URL(page.url()).pathname.replace(/\/?$/, '/replies'), { headers: { origin: app.baseUrl, 'content-type': 'application/x-www-form-urlencoded' }, data: replyForm, maxRedirects: 0 });
        expect(again.status()).to.be.below(500);
        expect(fake.requests.filter((r) => r.params.Body === replyText)).to.have.length(1);

        const callbackUrl = sent[0]!.params.StatusCallback!;
        expect(callbackUrl).to.equal(`${app.baseUrl}/v1/clinic/webhooks/twilio/status`);
        const smsSid = sent[0]!.sid!;
        expect(await twilio.status(callbackUrl, { MessageSid: smsSid, SmsSid: smsSid, MessageStatus: 'delivered', SmsStatus: 'delivered', AccountSid: DOWNTOWN_ACCOUNT_SID, From: '+13125550100', To: phone, ApiVersion: '2010-04-01' })).to.be.within(200, 299);
        await page.locator('.entry.outbound', { hasText: replyText }).getByText('Delivered').waitFor({ timeout: LIVE_TIMEOUT_MS });

        await page.getByRole('button', { name: 'Resolve' }).click();
        await page.getByRole('button', { name: 'Reopen' }).waitFor();
        await markDocument(page);
        await twilio.text(phone, 'One more question, sorry!');
        await page.getByRole('list', { name: 'Messages, oldest first' }).getByText('One more question, sorry!').waitFor({ timeout: LIVE_TIMEOUT_MS });
        await page.getByRole('button', { name: 'Resolve' }).waitFor({ timeout: LIVE_TIMEOUT_MS });
        expect(await sameDocument(page), 'reopened live, without a reload').to.equal(true);
        await expectAccessible(page, 'the thread after live updates');
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it("when a person of another clinic asks for this clinic's inbox or conversation, then both answer 404", async () => {
      const phone = uniquePhone();
      await twilio.text(phone, 'Hello from downtown');
      const maria = await openPage(browser, app.baseUrl);
      const nora = await openPage(browser, app.baseUrl);
      try {
        await signIn(maria.page, 'Maria Front-Desk');
        await rowFor(maria.page, phone).click();
        const threadUrl = maria.page.url();
        expect(new URL(threadUrl).pathname).to.match(/^\/staff\/clinics\/downtown\/conversations\/[^/]+$/);
        expect(threadUrl).not.to.include(phone.slice(1));
        await signIn(nora.page, 'Nora North');
        const thread = await nora.page.goto(threadUrl);
        expect(thread?.status()).to.equal(404);
        expect(await nora.page.locator('body').innerText()).not.to.include('Hello from downtown');
        const inbox = await nora.page.goto('/staff/clinics/downtown');
        expect(inbox?.status()).to.equal(404);
        await expectAccessible(nora.page, 'the not-found page');
        expectNoCspViolations(maria);
        expectNoCspViolations(nora);
      } finally {
        await maria.close();
        await nora.close();
      }
    });

    it('when the whole reply flow is done by keyboard alone, then it works: move with j, open, r to reply, send, e to resolve', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      const phone = uniquePhone();
      await twilio.text(phone, 'Keyboard test: please call me');
      try {
        await page.goto('/staff');
        // Tab to the first demo person's button and press Enter: no mouse.
        await page.getByRole('button', { name: 'Sign in as Maria Front-Desk' }).focus();
        await page.keyboard.press('Enter');
        await page.waitForURL(/\/staff\/clinics\/downtown/);
        const row = rowFor(page, phone);
        await row.waitFor();
        // j moves down the list until our row has focus, Enter opens it.
        const rowHref = (await row.getAttribute('href'))!;
        for (let i = 0; i < 50 && (await focused(page)) !== rowHref; i++) {
          await page.keyboard.press('j');
        }
        expect(await focused(page)).to.equal(rowHref);
        await page.keyboard.press('Enter');
        await page.getByRole('list', { name: 'Messages, oldest first' }).getByText('Keyboard test: please call me').waitFor();
        await page.keyboard.press('r');
        expect(await focused(page)).to.equal(await page.getByLabel('Reply to the patient by SMS').getAttribute('id'));
        await page.keyboard.type('Calling you in 5 minutes.');
        await page.keyboard.press('Tab');
        expect(await focused(page)).to.equal('BUTTON');
        await page.keyboard.press('Enter');
        await page.locator('.entry.outbound', { hasText: 'Calling you in 5 minutes.' }).waitFor();
        expect(fake.requests.some((r) => r.params.Body === 'Calling you in 5 minutes.' && r.params.To === phone)).to.equal(true);
        await page.locator('body').focus();
        await page.keyboard.press('e');
        await page.getByRole('button', { name: 'Reopen' }).waitFor();
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when /shortcode and a space are typed in the reply box, then the clinic\'s quick reply (rules YAML) appears filled for the patient, and it is what is sent', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      const phone = uniquePhone();
      await addPatient(app.service.store, { phone, firstName: 'Quinn', lastName: 'Hale', language: 'en' });
      await twilio.text(phone, 'Can you call me back?');
      try {
        await signIn(page, 'Maria Front-Desk');
        await page.getByRole('list', { name: 'Conversations' }).getByRole('link', { name: /Quinn Hale/ }).click();
        await page.getByRole('list', { name: 'Messages, oldest first' }).getByText('Can you call me back?').waitFor();
        const box = page.getByLabel('Reply to the patient by SMS');
        await box.focus();
        await page.keyboard.type('/call-us ');
        const filled = 'Hi Quinn, this is Downtown Family Clinic. Please call us at (312) 555-0199 when you can.';
        expect(await box.inputValue()).to.equal(filled);
        // The segment counter follows the inserted text (as typing does).
        await page.locator('#reply-counter', { hasText: `${filled.length} characters` }).waitFor();
        await page.getByText('Quick replies').click();
        await expectAccessible(page, 'the composer with its quick replies open');
        await page.getByRole('button', { name: 'Send reply' }).click();
        await page.locator('.entry.outbound', { hasText: filled }).waitFor();
        expect(fake.requests.filter((r) => r.params.To === phone).map((r) => r.params.Body)).to.deep.equal([filled]);
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when Maria starts a conversation by typing part of a patient\'s name, then she picks the patient from the clinic\'s list and the thread opens', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      const surname = `Brightwater${Date.now().toString(36)}`;
      const patient = await addPatient(app.service.store, { phone: uniquePhone(), firstName: 'Rosa', lastName: surname });
      try {
        await signIn(page, 'Maria Front-Desk');
        await page.getByText('Start a conversation').click();
        await page.getByLabel("Patient's name or phone number").fill(`ros ${surname.slice(0, 8)}`);
        await page.getByRole('button', { name: 'Start', exact: true }).press('Enter');
        await page.getByRole('heading', { name: 'Start a conversation', level: 1 }).waitFor();
        await expectAccessible(page, 'the patient picker');
        await page.getByRole('button', { name: `Start with Rosa ${surname} (phone ending ${patient.phone.slice(-4)})` }).click();
        await page.getByRole('heading', { name: `Rosa ${surname}`, level: 1 }).waitFor();
        expect(new URL(page.url()).pathname).to.match(/^\/staff\/clinics\/downtown\/conversations\/cv_[0-9a-f]{32}$/);
        await page.getByLabel('Reply to the patient by SMS').waitFor();
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });

    it('when message bodies carry markup and script, then they are shown as text and nothing runs', async () => {
      const watched = await openPage(browser, app.baseUrl);
      const { page } = watched;
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      const phone = uniquePhone();
      const bodies = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', '<a href="javascript:alert(3)">click</a>'];
      try {
        await signIn(page, 'Maria Front-Desk');
        for (const body of bodies) {
          await twilio.text(phone, body);
        }
        await rowFor(page, phone).click();
        const thread = page.getByRole('list', { name: 'Messages, oldest first' });
        for (const body of bodies) {
          await thread.getByText(body, { exact: true }).waitFor();
        }
        expect(await page.locator('main script, main img[src="x"], main a[href^="javascript:"]').count()).to.equal(0);
        expect(dialogs).to.deep.equal([]);
        expectNoCspViolations(watched);
      } finally {
        await watched.close();
      }
    });
  });
}
