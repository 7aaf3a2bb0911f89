import { expect } from 'chai';
import request from 'supertest';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

const BASE = '/v1/clinics/downtown/conversations';

for (const kind of STAFF_STORE_KINDS) {
  describe(`staff API: search and starting conversations (${kind.name})`, function () {
    let t: StaffTestApp;
    let key: string;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      t = await buildStaffApp(made);
      key = t.key('downtown', ['conversations:read', 'conversations:write']);
    });

    after(async function () {
      await t?.dispose();
    });

    const api = () => request(t.app.callback());
    const auth = () => ({ Authorization: `Bearer ${key}` });

    async function text(from: string, body: string): Promise<void> {
      const { body: form, signature } = signedRequest(inboundParams({ From: from, Body: body }));
      expect((await api().post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form)).status).to.equal(200);
    }

    it('when the list is searched with q, then a phone in any notation or part of a name finds the conversation, and phone= is refused, not ignored', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Imogen', lastName: 'Vance' });
      await text(phone, 'question about my bill');
      const notations = [phone, phone.slice(2), `(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`, `${phone.slice(2, 5)}.${phone.slice(5, 8)}.${phone.slice(8)}`];
      for (const q of [...notations, 'imog', 'VANCE']) {
        const res = await api().get(BASE).query({ q }).set(auth());
        expect(res.status, q).to.equal(200);
        expect(res.body.conversations.map((c: { phone: string }) => c.phone), q).to.deep.equal([phone]);
      }
      const none = await api().get(BASE).query({ q: 'no such person' }).set(auth());
      expect(none.body.conversations).to.deep.equal([]);
      const refused = await api().get(BASE).query({ phone }).set(auth());
      expect(refused.status).to.equal(400);
      expect(refused.body.error.message).to.match(/search with q/);
      expect((await api().get(BASE).query({ order: 'oldest' }).set(auth())).status).to.equal(400);
      expect((await api().get(BASE).query({ order: 'waiting' }).set(auth())).status).to.equal(200);
    });

    it('when a conversation is started with a phone, then it is created once (201, then 200 with the same id), and an opted-out number is refused with the reason', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Felix', lastName: 'Ortiz' });
      const first = await api().post(BASE).set(auth()).send({ phone: `(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}` });
      expect(first.status).to.equal(201);
      expect(first.body).to.deep.include({ phone, status: 'open', waitingSince: null, patients: [{ id: first.body.patients[0].id, displayName: 'Felix Ortiz' }] });
      const again = await api().post(BASE).set(auth()).send({ phone });
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);
      expect((await api().post(BASE).set(auth()).send({ phone: '12' })).status).to.equal(400);
      expect((await api().post(BASE).set(auth()).send({ number: phone })).status).to.equal(400);
      const stopped = uniquePhone();
      await addPatient(t.store, { phone: stopped });
      await text(stopped, 'STOP');
      const refused = await api().post(BASE).set(auth()).send({ phone: stopped });
      expect(refused.status).to.equal(409);
      expect(refused.body.error).to.deep.include({ code: 'OPTED_OUT' });
      expect(refused.body.error.message).to.match(/opted out of texts \(STOP\) on \d{4}-\d{2}-\d{2}/);
    });

    it('when a conversation is started with a patientId, then it is the patient\'s phone\'s (201, then 200), an unknown or other clinic\'s patient is 404, an opted-out patient 409 with the reason, and phone with patientId 400', async function () {
      const phone = uniquePhone();
      const patient = await addPatient(t.store, { phone, firstName: 'Greta', lastName: 'Lind' });
      const first = await api().post(BASE).set(auth()).send({ patientId: patient.id });
      expect(first.status).to.equal(201);
      expect(first.body).to.deep.include({ phone, status: 'open', patients: [{ id: patient.id, displayName: 'Greta Lind' }] });
      const again = await api().post(BASE).set(auth()).send({ patientId: patient.id });
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);

      const elsewhere = await addPatient(t.store, { phone: uniquePhone(), clinicId: 'northside' });
      for (const patientId of ['p-nobody', elsewhere.id]) {
        const missing = await api().post(BASE).set(auth()).send({ patientId });
        expect(missing.status, patientId).to.equal(404);
        expect(missing.body.error.message).to.equal('no patient of this clinic has this patientId');
      }
      const both = await api().post(BASE).set(auth()).send({ patientId: patient.id, phone });
      expect(both.status).to.equal(400);
      expect(both.body.error.message).to.equal('give either phone or patientId (one of them)');
      const neither = await api().post(BASE).set(auth()).send({});
      expect(neither.status).to.equal(400);
      expect(neither.body.error.message).to.equal('give either phone or patientId (one of them)');

      const stopped = await addPatient(t.store, { phone: uniquePhone(), firstName: 'Hugo' });
      await text(stopped.phone, 'STOP');
      const refused = await api().post(BASE).set(auth()).send({ patientId: stopped.id });
      expect(refused.status).to.equal(409);
      expect(refused.body.error).to.deep.include({ code: 'OPTED_OUT' });
      expect(refused.body.error.message).to.match(/opted out of texts \(STOP\) on \d{4}-\d{2}-\d{2}/);
    });
  });
}
