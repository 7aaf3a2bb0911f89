import { expect } from 'chai';
import request from 'supertest';
import { SERVICE_STORE_KINDS, startStaffService, type RunningStaffService } from '../support/staff-service.js';
import { signInAs } from '../support/staff-session.js';
import { twilioAt } from '../support/staff-webhooks.js';
import { addPatient, uniquePhone } from '../support/test-app.js';

const INBOX = '/staff/clinics/downtown';
const DAY = 86_400_000;

/** The page's text as a person reads it: tags out, entities back, spaces squeezed. */
function words(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

for (const kind of SERVICE_STORE_KINDS) {
  describe(`staff pages: the family choice and a possible opt-out, in words (real sign-in, ${kind.name})`, function () {
    this.timeout(30_000);
    let app: RunningStaffService;
    let cookie: string;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      app = await startStaffService(made);
      cookie = await signInAs(app.service.app.callback(), 'maria@downtown.example');
    });

    after(async () => {
      await app?.stop();
    });

    const web = () => request(app.service.app.callback());
    const threadOf = async (phone: string): Promise<string> => {
      const { conversations } = await app.service.conversations.list('downtown', { q: phone, limit: 5 });
      expect(conversations, `a conversation for ${phone}`).to.have.length(1);
      return `${INBOX}/conversations/${conversations[0]!.id}`;
    };

    it('when a family phone texts CONFIRM and then answers 1, then the thread says which question was asked, with its options and until when, and that the answer was its answer', async () => {
      const phone = uniquePhone();
      const twilio = twilioAt(app.baseUrl);
      await addPatient(app.service.store, { phone, firstName: 'Dylan', lastName: 'Nguyen' }, [{ startsAt: new Date(Date.now() + 2 * DAY) }]);
      await addPatient(app.service.store, { phone, firstName: 'Carla', lastName: 'Nguyen' }, [{ startsAt: new Date(Date.now() + 4 * DAY) }]);
      await twilio.text(phone, 'Hi, a question about parking');
      await twilio.text(phone, 'CONFIRM');
      await twilio.text(phone, '1');
      const page = words((await web().get(await threadOf(phone)).set('Cookie', cookie)).text);
      const when = String.raw`[A-Z][a-z]{2}, [A-Z][a-z]{2} \d+, \d+:\d\d [AP]M`;
      expect(page).to.match(new RegExp(`Family choice: asked which appointment to confirm: 1 for Dylan \\(${when}\\), 2 for Carla \\(${when}\\), or ALL\\. The answer is awaited until ${when}\\.`));
      expect(page).to.match(new RegExp(`1: Dylan's appointment ${when} confirmed`));
      expect(page).to.match(new RegExp(`Family choice: the answer to "which appointment to confirm\\?" \\(asked ${when}: 1 for Dylan`));
    });

    it('when a patient writes "wrong number", then the list row and the thread say it may be an opt-out, and the message\'s own line says so', async () => {
      const phone = uniquePhone();
      await addPatient(app.service.store, { phone, firstName: 'Pat', lastName: 'Example' });
      await twilioAt(app.baseUrl).text(phone, 'Sorry, wrong number');
      const path = await threadOf(phone);
      const list = (await web().get(`${INBOX}?view=all`).set('Cookie', cookie)).text;
      const row = list.split('<li id="row-').find((r) => r.includes('Pat Example'));
      expect(words(row ?? '')).to.include('Possible opt-out');
      const page = words((await web().get(path).set('Cookie', cookie)).text);
      expect(page).to.match(/Possible opt-out: the message of [A-Z][a-z]{2}, [A-Z][a-z]{2} \d+, \d+:\d\d [AP]M may ask us to stop texting, in its own words\./);
      expect(page).to.include('Possible opt-out: this message may ask us to stop texting, in its own words (not STOP). Read it before texting the number again.');
    });
  });
}
