import { expect } from 'chai';
import request from 'supertest';
import type { AccessRecord } from '../../src/auth/access-log.js';
import { SERVICE_STORE_KINDS, startStaffService, type RunningStaffService } from '../support/staff-service.js';
import { signInAs } from '../support/staff-session.js';
import { twilioAt } from '../support/staff-webhooks.js';
import { addPatient, uniquePhone } from '../support/test-app.js';

const START = '/staff/clinics/downtown/conversations';
const SAME_ORIGIN = { 'Sec-Fetch-Site': 'same-origin' };

for (const kind of SERVICE_STORE_KINDS) {
  describe(`staff pages: start a conversation with a patient picked by name (real sign-in, ${kind.name})`, function () {
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
    const post = (form: Record<string, string>) => web().post(START).set('Cookie', cookie).set(SAME_ORIGIN).type('form').send(form);

    it('when Maria types part of a name, then the clinic\'s patients it points to are offered (not another clinic\'s), an opted-out one with the reason and no button; picking one opens that patient\'s conversation, attributed to her', async () => {
      const surname = `Quennell${Date.now().toString(36)}`;
      const ivy = await addPatient(app.service.store, { phone: uniquePhone(), firstName: 'Ivy', lastName: surname }, [{ startsAt: new Date(Date.now() + 2 * 86_400_000) }]);
      const ian = await addPatient(app.service.store, { phone: uniquePhone(), firstName: 'Ian', lastName: surname });
      await addPatient(app.service.store, { phone: uniquePhone(), firstName: 'Ivy', lastName: surname, clinicId: 'northside' });
      await twilioAt(app.baseUrl).text(ian.phone, 'STOP');

      const since = new Date();
      const picker = await post({ patient: `${surname.slice(0, 9).toLowerCase()}` });
      expect(picker.status).to.equal(200);
      expect(picker.text).to.include('<h1 id="main-heading">Start a conversation</h1>');
      const buttons = [...picker.text.matchAll(/name="patientId" value="([^"]+)"/g)].map((m) => m[1]);
      expect(buttons).to.include(ivy.id);
      expect(buttons, 'the opted-out patient has no button').to.not.include(ian.id);
      expect(picker.text).to.include(`Start with Ivy ${surname} (phone ending ${ivy.phone.slice(-4)})`);
      expect(picker.text).to.match(new RegExp(`Ian ${surname} \\(phone ending ${ian.phone.slice(-4)}\\): opted out of texts \\(STOP\\) on `));
      expect(picker.text.match(new RegExp(`Ivy ${surname}`, 'g')), 'northside\'s Ivy is not offered').to.have.length(1);
      expect(picker.text).to.match(/Next visit [A-Z][a-z]{2}, /);
      const narrowed = await post({ patient: `iv ${surname.slice(0, 5)}` });
      expect([...narrowed.text.matchAll(/name="patientId" value="([^"]+)"/g)].map((m) => m[1])).to.deep.equal([ivy.id]);

      const started = await post({ patientId: ivy.id });
      expect(started.status).to.equal(303);
      const page = await web().get(started.headers.location!).set('Cookie', cookie);
      expect(page.text).to.include(`<h1 id="thread-heading">Ivy ${surname}</h1>`);
      expect(page.text).to.include('started the conversation by Maria Front-Desk');
      expect(started.headers.location).to.not.include(ivy.phone.slice(2));
      const records: AccessRecord[] = [];
      for await (const r of app.service.staffStores.accessLog.list({ since, until: new Date(Date.now() + 60_000) })) {
        records.push(r);
      }
      const starts = records.filter((r) => r.route === '/staff/clinics/:clinicId/conversations' && r.method === 'POST');
      expect(starts.map((r) => (r as AccessRecord & { who: { email: string } }).who.email)).to.deep.equal(['maria@downtown.example', 'maria@downtown.example', 'maria@downtown.example']);
    });

    it('when the name matches nobody, or the patient picked opted out or is another clinic\'s, then nothing starts and the page says why', async () => {
      const none = await post({ patient: 'Zzyzx-nobody' });
      expect(none.status).to.equal(200);
      expect(none.text).to.include('No patient of the clinic has a name starting with “Zzyzx-nobody”');
      expect((await post({ patient: 'a' })).text).to.include("type a patient's name (2 letters or more) or a phone number");
      const stopped = await addPatient(app.service.store, { phone: uniquePhone(), firstName: 'Olive', lastName: 'Stopped' });
      await twilioAt(app.baseUrl).text(stopped.phone, 'STOP');
      const refused = await post({ patientId: stopped.id });
      expect(refused.status).to.equal(409);
      expect(refused.text).to.match(/opted out of texts \(STOP\) on \d{4}-\d{2}-\d{2}/);
      const elsewhere = await addPatient(app.service.store, { phone: uniquePhone(), clinicId: 'northside' });
      const hidden = await post({ patientId: elsewhere.id });
      expect(hidden.status).to.equal(404);
      expect(hidden.text).to.include('no patient of this clinic has this patientId');
    });
  });
}
