import { expect } from 'chai';
import request from 'supertest';
import type { AccessRecord } from '../../src/auth/access-log.js';
import { PAGE_CSP } from '../../src/staff/page-security.js';
import { startFakeTwilio, type FakeTwilio } from '../support/fake-twilio.js';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';
import { DEMO_ISSUER } from '../../src/staff/auth/staff-person.js';
import { signInAs } from '../support/staff-session.js';
import { PNG_BYTES, aMediaRecord, sidOf } from '../support/media-builders.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';

const INBOX = '/staff/clinics/downtown';
const SAME_ORIGIN = { 'Sec-Fetch-Site': 'same-origin' };
const MARIA = { email: 'maria@downtown.example', name: 'Maria Lopez' };

for (const kind of STAFF_STORE_KINDS) {
  describe(`staff pages (${kind.name})`, function () {
    let t: StaffTestApp;
    let twilioFake: FakeTwilio;
    /** Real sessions from the demo sign-in (the sign-in itself is tested in staff-sign-in.int.test.ts). */
    let maria: { Cookie: string };
    let nora: { Cookie: string };

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      twilioFake = await startFakeTwilio();
      t = await buildStaffApp(
        made,
        { twilioApiBaseUrl: twilioFake.baseUrl },
        {
          pages: {},
          staff: [
            { ...MARIA, clinics: ['downtown'] },
            { email: 'sam@downtown.example', name: 'Sam Reyes', clinics: ['downtown'] },
            { email: 'nora@northside.example', name: 'Nora North', clinics: ['northside'] },
          ],
        },
      );
      maria = { Cookie: await signInAs(t.app.callback(), MARIA.email) };
      nora = { Cookie: await signInAs(t.app.callback(), 'nora@northside.example') };
    });

    after(async function () {
      await twilioFake?.close();
      await t?.dispose();
    });

    const web = () => request(t.app.callback());

    /** A patient (or unknown number) texts the clinic through the signed webhook. */
    async function text(from: string, body: string, more: Record<string, string> = {}): Promise<string> {
      const params = inboundParams({ From: from, Body: body, ...more });
      const { body: form, signature } = signedRequest(params);
      const res = await web().post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form);
      expect(res.status).to.equal(200);
      return params.MessageSid as string;
    }

    /** The id of the conversation whose row names this text, from the inbox HTML. */
    async function rowId(html: string, needle: string): Promise<string> {
      const rows = html.split('<li id="row-').slice(1);
      const row = rows.find((r) => r.includes(needle));
      expect(row, `a row with ${needle}`).to.not.equal(undefined);
      return row!.slice(0, row!.indexOf('"'));
    }

    async function accessSince(since: Date): Promise<AccessRecord[]> {
      const out: AccessRecord[] = [];
      for await (const r of t.stores.accessLog.list({ since, until: new Date(Date.now() + 60_000) })) {
        out.push(r);
      }
      return out;
    }

    it('when a signed-in person opens a kept photo of their clinic, then it is served inert and recorded; nobody else and no other clinic gets it', async function () {
      const fileId = await t.media.saveFile({ clinicId: 'downtown', messageSid: sidOf('MM'), index: 0, sha256: 'a'.repeat(64), contentType: 'image/png', size: PNG_BYTES.length, fetchedAt: new Date() }, PNG_BYTES);
      const record = aMediaRecord({ clinicId: 'downtown', state: 'stored', work: 'none', file: { fileId, sha256: 'a'.repeat(64), contentType: 'image/png', size: PNG_BYTES.length, fetchedAt: new Date() } });
      await t.media.addJobs([record]);
      const since = new Date();
      const res = await web().get(`${INBOX}/media/${record.id}`).set(maria).buffer(true).parse((r, done) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => done(null, Buffer.concat(chunks)));
      });
      expect(res.status).to.equal(200);
      expect(Buffer.compare(res.body as Buffer, PNG_BYTES)).to.equal(0);
      expect(res.headers).to.include({ 'content-type': 'image/png', 'content-length': String(PNG_BYTES.length), 'x-content-type-options': 'nosniff', 'content-security-policy': 'sandbox', 'cache-control': 'no-store' });
      expect(res.headers['content-disposition']).to.equal(`inline; filename="${record.id}"`);
      const trail = (await accessSince(since)).filter((r) => r.route === '/staff/clinics/:clinicId/media/:mediaId');
      expect(trail.map((r) => [r.status, (r as { who?: { email?: string } }).who?.email])).to.deep.equal([[200, MARIA.email]]);
      expect((await web().get(`${INBOX}/media/${record.id}`)).status).to.equal(303);
      expect((await web().get(`/staff/clinics/northside/media/${record.id}`).set(nora)).status).to.equal(404);
      expect((await web().get(`${INBOX}/media/${record.id}`).set(nora)).status).to.equal(404);
      expect((await web().get(`${INBOX}/media/MM${'0'.repeat(32)}-0`).set(maria)).status).to.equal(404);
    });

    it('when nobody is signed in, then the inbox sends to sign in and shows nothing; a state change and the stream are refused', async function () {
      const res = await web().get(INBOX);
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal(`/staff/auth/sign-in?next=${encodeURIComponent(INBOX)}`);
      expect(res.text).to.not.include('conversation');
      expect((await web().post(`${INBOX}/search`).set(SAME_ORIGIN).type('form').send({ q: 'a' })).status).to.equal(401);
      expect((await web().get(`${INBOX}/events`).set('Accept', 'text/event-stream')).status).to.equal(401);
      const forged = await web().get(INBOX).set('Cookie', `clinic-sms-staff=${'A'.repeat(43)}`);
      expect(forged.status, 'a made-up session id').to.equal(303);
    });

    it('when an unknown number texts, then it waits in Unassigned with its preview, the page has the CSP and no-store, and the access record names the person', async function () {
      const since = new Date();
      const phone = uniquePhone();
      await text(phone, 'Hello, is the clinic open on Saturday?');
      const res = await web().get(INBOX).set(maria).set('User-Agent', 'front-desk-browser/1.0');
      expect(res.status).to.equal(200);
      expect(res.headers['content-security-policy']).to.equal(PAGE_CSP);
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.type).to.equal('text/html');
      expect(res.text).to.match(/^<!DOCTYPE html><html lang="en">/);
      expect(res.text).to.include(`Unknown number ${phone}`);
      expect(res.text).to.include('Hello, is the clinic open on Saturday?');
      expect(res.text).to.match(/<title>\(\d+\) Unassigned · Downtown Family Clinic<\/title>/);
      const records = (await accessSince(since)).filter((r) => r.route === '/staff/clinics/:clinicId');
      expect(records).to.have.length(1);
      expect(records[0]).to.deep.include({ clinicId: 'downtown', method: 'GET', status: 200, keyId: null });
      expect((records[0] as AccessRecord & { who: unknown }).who).to.deep.equal({ kind: 'staff', issuer: DEMO_ISSUER, subject: MARIA.email, email: MARIA.email });
      // The same request facts as the staff API's records: who asked from where, with what.
      expect(records[0]?.requestId).to.match(/^[\w.:-]+$/);
      expect(records[0]?.clientAddress).to.be.a('string').and.not.equal('');
      expect(records[0]?.userAgent).to.equal('front-desk-browser/1.0');
    });

    it('when the list is shown, then the longest waiting comes first and a photo alone shows as a photo', async function () {
      const first = uniquePhone();
      const second = uniquePhone();
      await text(first, 'first in line');
      await text(second, '', { NumMedia: '1', MediaUrl0: `https://api.twilio.com/2010-04-01/Accounts/AC${'0123456789abcdef'.repeat(2)}/Messages/MM${'3'.repeat(32)}/Media/ME${'4'.repeat(32)}`, MediaContentType0: 'image/jpeg' });
      await text(first, 'still waiting');
      const html = (await web().get(INBOX).set(maria)).text;
      expect(html.indexOf(`Unknown number ${first}`)).to.be.lessThan(html.indexOf(`Unknown number ${second}`));
      const photoRow = html.split('<li id="row-').find((r) => r.includes(second))!;
      expect(photoRow).to.include('📷 Photo');
    });

    it('when a conversation is opened, then the thread shows the message as text, what the rules did in words, and the patients beside it', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Dylan', lastName: 'Park', language: 'es' }, [{ startsAt: new Date(Date.now() + 3 * 86_400_000), provider: 'Dr. Lee' }]);
      await addPatient(t.store, { phone, firstName: 'Carla', lastName: 'Park' });
      await text(phone, 'CONFIRM');
      await text(phone, 'Can I bring my daughter too?');
      const id = await rowId((await web().get(`${INBOX}?view=all`).set(maria)).text, 'Dylan Park');
      const res = await web().get(`${INBOX}/conversations/${id}`).set(maria);
      expect(res.status).to.equal(200);
      expect(res.text).to.match(/CONFIRM: Dylan's appointment [A-Z][a-z]{2}, [A-Z][a-z]{2} \d+, \d+:\d\d [AP]M confirmed/);
      expect(res.text).to.include('Can I bring my daughter too?');
      expect(res.text).to.include('Patients on this phone');
      expect(res.text).to.include('<h3>Carla Park</h3>');
      expect(res.text).to.include('Language: Spanish');
      expect(res.text).to.include('with Dr. Lee');
      expect(res.text).to.include('(confirmed by text');
      expect(res.text).to.include('Texts allowed (not opted out)');
      expect(res.text).to.include('id="reply-text"');
    });

    it('when a patient texts markup and a javascript: link, then the page shows it escaped and inert', async function () {
      const phone = uniquePhone();
      const evil = '<script>alert(1)</script> "><img src=x onerror=alert(2)> javascript:alert(3)';
      await text(phone, evil);
      const list = await web().get(INBOX).set(maria);
      const id = await rowId(list.text, phone);
      const res = await web().get(`${INBOX}/conversations/${id}`).set(maria);
      for (const html of [list.text, res.text]) {
        expect(html).to.not.include('<script>alert');
        expect(html).to.not.include('<img src=x');
        expect(html).to.not.match(/href="javascript:/i);
        expect(html).to.not.match(/<script(?![^>]*\ssrc="\/staff\/assets\/)/);
      }
      expect(res.text).to.include('&lt;script>alert(1)&lt;/script> &quot;>&lt;img src=x onerror=alert(2)> javascript:alert(3)');
    });

    it('when a person of another clinic asks for downtown pages or conversations, then they get 404 as for nothing there', async function () {
      const phone = uniquePhone();
      await text(phone, 'hello');
      const id = await rowId((await web().get(INBOX).set(maria)).text, phone);
      const other = nora;
      expect((await web().get(INBOX).set(other)).status).to.equal(404);
      const res = await web().get(`${INBOX}/conversations/${id}`).set(other);
      expect(res.status).to.equal(404);
      expect(res.text).to.not.include(phone);
      const own = await web().get(`/staff/clinics/northside/conversations/${id}`).set(other);
      expect(own.status).to.equal(404);
    });

    it('when a state change comes from another site or without an origin, then it is refused and nothing changes', async function () {
      const phone = uniquePhone();
      await text(phone, 'please call me');
      const id = await rowId((await web().get(INBOX).set(maria)).text, phone);
      const url = `${INBOX}/conversations/${id}/status`;
      expect((await web().post(url).set(maria).set('Sec-Fetch-Site', 'cross-site').type('form').send({ status: 'resolved' })).status).to.equal(403);
      expect((await web().post(url).set(maria).set('Origin', 'https://evil.example').type('form').send({ status: 'resolved' })).status).to.equal(403);
      expect((await web().post(url).set(maria).type('form').send({ status: 'resolved' })).status).to.equal(403);
      expect((await t.service.get('downtown', id)).status).to.equal('open');
      const ok = await web().post(url).set(maria).set('Origin', 'https://sms.example-clinic.test').type('form').send({ status: 'resolved' });
      expect(ok.status).to.equal(303);
      expect((await t.service.get('downtown', id)).status).to.equal('resolved');
    });

    it('when Maria replies to an unassigned conversation, then Twilio gets the text once with an Idempotency-Key, it is hers, and the thread shows it with its delivery status', async function () {
      const phone = uniquePhone();
      await text(phone, 'Do you take walk-ins?');
      const id = await rowId((await web().get(INBOX).set(maria)).text, phone);
      const page = await web().get(`${INBOX}/conversations/${id}`).set(maria);
      const key = /name="idempotencyKey" value="([^"]+)"/.exec(page.text)?.[1];
      expect(key).to.be.a('string');
      const before = twilioFake.requests.length;
      const send = () => web().post(`${INBOX}/conversations/${id}/replies`).set(maria).set(SAME_ORIGIN).type('form').send({ text: 'Yes, until 4 PM.', idempotencyKey: key! });
      const res = await send();
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal(`${INBOX}/conversations/${id}`);
      expect((await send()).status).to.equal(303);
      const sent = twilioFake.requests.slice(before);
      expect(sent).to.have.length(1);
      expect(sent[0]!.params).to.deep.include({ To: phone, Body: 'Yes, until 4 PM.' });
      const after = await t.service.get('downtown', id);
      expect(after.assignee).to.equal(MARIA.email);
      expect(after.waitingSince).to.equal(null);
      const thread = await web().get(`${INBOX}/conversations/${id}`).set(maria);
      expect(thread.text).to.include('Reply by Maria Lopez');
      expect(thread.text).to.include('Queued at Twilio');
      expect(thread.text).to.include('Assigned to Maria Lopez');
    });

    it('when Maria writes a note, resolves, snoozes, assigns and reopens, then each is in the thread attributed to her', async function () {
      const phone = uniquePhone();
      await text(phone, 'Need a refill');
      const id = await rowId((await web().get(INBOX).set(maria)).text, phone);
      const post = (what: string, form: Record<string, string>) => web().post(`${INBOX}/conversations/${id}/${what}`).set(maria).set(SAME_ORIGIN).type('form').send(form);
      expect((await post('notes', { text: 'Called pharmacy <b>ok</b>' })).status).to.equal(303);
      expect((await post('assignee', { assignee: 'sam@downtown.example' })).status).to.equal(303);
      expect((await post('status', { status: 'snoozed', snoozedUntil: '2099-01-05T09:30' })).status).to.equal(303);
      const snoozed = await t.service.get('downtown', id);
      expect(snoozed.status).to.equal('snoozed');
      // 09:30 in Chicago in January is 15:30 UTC.
      expect(snoozed.snoozedUntil?.toISOString()).to.equal('2099-01-05T15:30:00.000Z');
      expect((await post('status', { status: 'open' })).status).to.equal(303);
      expect((await post('status', { status: 'resolved' })).status).to.equal(303);
      expect((await post('assignee', { assignee: 'stranger@elsewhere.example' })).status).to.equal(400);
      const html = (await web().get(`${INBOX}/conversations/${id}?status=resolved`).set(maria)).text;
      expect(html).to.include('Internal note by Maria Lopez');
      expect(html).to.include('not sent to the patient');
      expect(html).to.include('Called pharmacy &lt;b>ok&lt;/b>');
      expect(html).to.include('assigned it to Sam Reyes by Maria Lopez');
      expect(html).to.include('snoozed until Mon, Jan 5, 9:30 AM by Maria Lopez');
      expect(html).to.include('reopened by Maria Lopez');
      expect(html).to.include('resolved by Maria Lopez');
      expect(html).to.include('Reopen</button>');
    });

    it('when the number opted out, then there is no reply box, only the reason, and starting a conversation with it is refused with the reason', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Omar', lastName: 'Haddad' });
      await text(phone, 'STOP');
      await text(phone, 'actually one question');
      const id = await rowId((await web().get(`${INBOX}?view=all`).set(maria)).text, 'Omar Haddad');
      const html = (await web().get(`${INBOX}/conversations/${id}`).set(maria)).text;
      expect(html).to.not.include('id="reply-text"');
      expect(html).to.include('This number opted out of texts (STOP) on');
      expect(html).to.include('id="note-text"');
      const refused = await web().post('/staff/clinics/downtown/conversations').set(maria).set(SAME_ORIGIN).type('form').send({ phone });
      expect(refused.status).to.equal(409);
      expect(refused.text).to.include('opted out of texts (STOP)');
    });

    it('when Maria starts a conversation with a patient by phone in another notation, then it opens as that patient, and search finds it by phone or name', async function () {
      const phone = uniquePhone();
      await addPatient(t.store, { phone, firstName: 'Zelda', lastName: 'Quist' });
      const local = `(${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
      const res = await web().post('/staff/clinics/downtown/conversations').set(maria).set(SAME_ORIGIN).type('form').send({ phone: local });
      expect(res.status).to.equal(303);
      const page = await web().get(res.headers.location!).set(maria);
      expect(page.text).to.include('<h1 id="thread-heading">Zelda Quist</h1>');
      expect(page.text).to.include('started the conversation by Maria Lopez');
      const byPhone = await web().post(`${INBOX}/search`).set(maria).set(SAME_ORIGIN).type('form').send({ q: phone.slice(2).replace(/(\d{3})(\d{3})/, '$1.$2.'), view: 'all' });
      expect(byPhone.status).to.equal(200);
      expect(byPhone.text).to.include('Zelda Quist');
      const byName = await web().post(`${INBOX}/search`).set(maria).set(SAME_ORIGIN).type('form').send({ q: 'zeld', view: 'all' });
      expect(byName.text).to.include('Zelda Quist');
      const none = await web().post(`${INBOX}/search`).set(maria).set(SAME_ORIGIN).type('form').send({ q: 'nobody-by-this-name', view: 'all' });
      expect(none.text).to.not.include('Zelda Quist');
      expect(none.text).to.include('Nothing here.');
    });

    it('when the composer asks for a count, then it answers as rules check counts (GSM-7 or UCS-2)', async function () {
      const gsm = await web().post(`${INBOX}/count`).set(maria).set(SAME_ORIGIN).type('form').send({ text: 'a'.repeat(161) });
      expect(gsm.text).to.include('161 characters · 2 SMS (GSM-7)');
      const ucs = await web().post(`${INBOX}/count`).set(maria).set(SAME_ORIGIN).type('form').send({ text: 'Hola, ¿mañana?' });
      expect(ucs.text).to.include('1 SMS (GSM-7)');
      const emoji = await web().post(`${INBOX}/count`).set(maria).set(SAME_ORIGIN).type('form').send({ text: 'See you 🙂' });
      expect(emoji.text).to.include('UCS-2');
    });

    it('when a message arrives while a stream is open, then the stream names its conversation, with no reload (the 2 s target is measured by the bench)', async function () {
      const server = t.app.listen(0);
      try {
        const port = (server.address() as { port: number }).port;
        const controller = new AbortController();
        const res = await fetch(`http://127.0.0.1:${port}${INBOX}/events`, { headers: maria, signal: controller.signal });
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
        const reader = res.body!.getReader();
        const phone = uniquePhone();
        const started = Date.now();
        await text(phone, 'live one');
        const id = await rowId((await web().get(INBOX).set(maria)).text, phone);
        let got = '';
        while (!got.includes(`event: ${id}`) && Date.now() - started < 10_000) {
          let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 10_000)))]);
        clearTimeout(timer);
          if (!chunk || chunk.done) {
            break;
          }
          got += Buffer.from(chunk.value).toString('utf8');
        }
        controller.abort();
        expect(got).to.include(`event: message.created\ndata: ${id}`);
        expect(got).to.include(`event: ${id}\ndata: message.created`);
        expect(got).to.not.include(phone);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
}
