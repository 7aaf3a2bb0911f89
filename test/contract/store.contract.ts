import { expect } from 'chai';
import { appointmentStatus, type Appointment, type MessageCompletion, type OutboxEvent, type PatientResponse, type PendingChoice } from '../../src/domain.js';
import type { ResponseSource, Store } from '../../src/store/store.js';
import { aMessage, anAppointment, anOptOut, aPatient, newClinicId, newPhone, newSid } from './store-fixtures.js';

export interface StoreUnderTest {
  store: Store;
  dispose(): Promise<void>;
}

/** Makes the store for one run of the suite; null skips the suite (no server). */
export type MakeStore = () => Promise<StoreUnderTest | null>;

const NOW = new Date('2026-06-01T12:00:00Z');
const at = (iso: string): Date => new Date(iso);
/** The message behind a response: its sid, arrived at NOW unless said. */
const by = (messageSid: string, iso?: string): ResponseSource => ({ messageSid, at: iso ? new Date(iso) : NOW });
const window = (key: string): { key: string; expiresAt: Date } => ({ key, expiresAt: new Date(NOW.getTime() + 60_000) });

/**
 * The behaviour every Store adapter must have. Run against the memory store always and
 * against MongoDB when a server is available (test/support/mongo.ts). The tests share
 * one store per run and keep apart by using a clinic id of their own.
 * @param name - the adapter, for the suite title
 * @param makeStore - makes the store (initialised) and its disposal
 */
export function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, function () {
    let handle: StoreUnderTest | null = null;
    let store: Store;

    before(async function () {
      handle = await makeStore();
      if (!handle) {
        this.skip();
      }
      store = handle.store;
    });

    after(async function () {
      await handle?.dispose();
    });

    describe('lifecycle', function () {
      it('when init() is called again, then it succeeds and ping() answers', async function () {
        await store.init();
        await store.init();
        await store.ping();
      });
    });

    describe('messages', function () {
      it('when a MessageSid is claimed twice, then the second claim gets the stored record', async function () {
        const clinicId = newClinicId();
        const record = aMessage({ clinicId });
        expect(await store.claimMessage(record)).to.deep.equal({ claimed: true });
        const again = await store.claimMessage({ ...record, receivedAt: new Date(), status: 'replayed', via: 'replay' });
        expect(again.claimed).to.equal(false);
        expect(again).to.have.property('existing').that.deep.equals(record);
      });

      it('when many claims of one MessageSid run at once, then exactly one wins', async function () {
        const clinicId = newClinicId();
        const record = aMessage({ clinicId });
        const results = await Promise.all(Array.from({ length: 12 }, () => store.claimMessage({ ...record, receivedAt: new Date() })));
        expect(results.filter((r) => r.claimed)).to.have.length(1);
        for (const r of results.filter((x) => !x.claimed)) {
          expect(r).to.have.nested.property('existing.messageSid', record.messageSid);
        }
      });

      it('when a record is completed, then getMessage returns it with the completion and Dates intact', async function () {
        const clinicId = newClinicId();
        const record = aMessage({ clinicId });
        await store.claimMessage(record);
        const completedAt = at('2026-05-01T10:00:01.789Z');
        await store.completeMessage(record.messageSid, {
          status: 'processed',
          patientIds: ['p-1'],
          rulesFired: ['confirm'],
          actions: [{ type: 'confirm-appointment', outcome: 'confirmed', ruleName: 'confirm', detail: { appointmentId: 'a-1', late: false, n: 2, none: null } }],
          reply: 'Thanks!',
          completedAt,
          timings: { total: 12.5 },
        });
        const stored = await store.getMessage(record.messageSid);
        expect(stored).to.deep.equal({
          ...record,
          status: 'processed',
          patientIds: ['p-1'],
          rulesFired: ['confirm'],
          actions: [{ type: 'confirm-appointment', outcome: 'confirmed', ruleName: 'confirm', detail: { appointmentId: 'a-1', late: false, n: 2, none: null } }],
          reply: 'Thanks!',
          completedAt,
          timings: { total: 12.5 },
        });
        expect(stored?.receivedAt).to.be.instanceOf(Date);
        expect(stored?.receivedAt.getTime()).to.equal(record.receivedAt.getTime());
        expect(stored?.completedAt?.getTime()).to.equal(completedAt.getTime());
        expect(stored?.message.extra).to.deep.equal({ FromCity: 'CHICAGO', 'Odd.Param': 'x', $dollar: 'y' });
      });

      it('when repeated deliveries are recorded, then the record counts them and keeps the last time', async function () {
        const clinicId = newClinicId();
        const record = aMessage({ clinicId });
        await store.claimMessage(record);
        expect(store.recordDuplicate, 'recordDuplicate').to.be.a('function');
        await Promise.all([1, 2, 3].map(() => store.recordDuplicate(record.messageSid, at('2026-05-01T10:00:05.250Z'))));
        expect(await store.getMessage(record.messageSid)).to.deep.equal({ ...record, duplicateDeliveries: 3, lastDuplicateAt: at('2026-05-01T10:00:05.250Z') });
        await store.recordDuplicate(newSid(), new Date());
      });

      it('when a MessageSid was never claimed, then getMessage returns null and completing it changes nothing', async function () {
        const sid = newSid();
        await store.completeMessage(sid, { status: 'processed', patientIds: [], rulesFired: [], actions: [], reply: null });
        expect(await store.getMessage(sid)).to.equal(null);
      });

      it('when messages are listed, then only the clinic and [since, until) come back, by receivedAt then MessageSid', async function () {
        const clinicId = newClinicId();
        const other = newClinicId();
        const m = (sid: string, iso: string, clinic = clinicId) => aMessage({ clinicId: clinic, messageSid: sid, receivedAt: at(iso) });
        const rows = [
          m('SM03', '2026-05-01T10:00:00Z'),
          m('SM01', '2026-05-01T10:00:00Z'),
          m('SM02', '2026-05-01T09:00:00Z'),
          m('SM04', '2026-05-01T11:00:00Z'), // == until: excluded
          m('SM05', '2026-05-01T08:59:59.999Z'), // before since
          m('SM06', '2026-05-01T09:30:00Z', other),
          m('SM07', '2026-05-01T09:00:00Z'), // == since: included
        ].map((r) => ({ ...r, messageSid: `${r.messageSid}-${clinicId}` }));
        for (const r of rows) {
          await store.claimMessage(r);
        }
        const seen: string[] = [];
        for await (const r of store.listMessages({ clinicId, since: at('2026-05-01T09:00:00Z'), until: at('2026-05-01T11:00:00Z') })) {
          expect(r.receivedAt).to.be.instanceOf(Date);
          seen.push(r.messageSid.slice(0, 4));
        }
        expect(seen).to.deep.equal(['SM02', 'SM07', 'SM01', 'SM03']);
      });
    });

    describe('messages waiting for their media jobs', function () {
      it('when a record is claimed with mediaPending, then pendingMedia lists it until clearMediaPending, and the record keeps everything else', async function () {
        const clinicId = newClinicId();
        const withMedia = aMessage({ clinicId, mediaPending: true });
        const plain = aMessage({ clinicId });
        const waitingBefore = await store.countMediaPending();
        await store.claimMessage(withMedia);
        await store.claimMessage(plain);
        expect(await store.countMediaPending(), 'the relay backlog counts the message with media only').to.equal(waitingBefore + 1);
        const pending = (await store.pendingMedia(1000)).filter((m) => m.clinicId === clinicId);
        expect(pending.map((m) => m.messageSid)).to.deep.equal([withMedia.messageSid]);
        expect(pending[0]).to.deep.equal(withMedia);
        await store.clearMediaPending(withMedia.messageSid);
        expect(await store.countMediaPending()).to.equal(waitingBefore);
        expect((await store.pendingMedia(1000)).filter((m) => m.clinicId === clinicId)).to.deep.equal([]);
        const { mediaPending: _flag, ...rest } = withMedia;
        expect(await store.getMessage(withMedia.messageSid)).to.deep.equal(rest);
      });

      it('when a second claim of the MessageSid comes, then the message is listed once', async function () {
        const clinicId = newClinicId();
        const record = aMessage({ clinicId, mediaPending: true });
        await store.claimMessage(record);
        await store.claimMessage(record);
        expect((await store.pendingMedia(1000)).filter((m) => m.clinicId === clinicId)).to.have.length(1);
      });
    });

    describe('completions waiting for the events relay', function () {
      it('when a message is completed with events, then pendingOutboxes lists them until clearOutbox, a second completion replaces them, and the record keeps its outbox', async function () {
        const clinicId = newClinicId();
        const withEvents = aMessage({ clinicId });
        const plain = aMessage({ clinicId });
        await store.claimMessage(withEvents);
        await store.claimMessage(plain);
        const event: OutboxEvent = { id: `ev-${withEvents.messageSid}`, type: 'message.routed', clinicId, messageSid: withEvents.messageSid, occurredAt: new Date('2026-05-01T10:00:01Z'), receivedAt: withEvents.receivedAt, data: { clinicId } };
        const completion = (at: string, outbox?: OutboxEvent[]): MessageCompletion => ({ status: 'processed', patientIds: [], rulesFired: [], actions: [], reply: null, completedAt: new Date(at), ...(outbox ? { outbox } : {}) });
        await store.completeMessage(plain.messageSid, completion('2026-05-01T10:00:01Z'));
        await store.completeMessage(withEvents.messageSid, completion('2026-05-01T10:00:01Z', [event]));
        const again = { ...event, id: `ev2-${withEvents.messageSid}` };
        await store.completeMessage(withEvents.messageSid, completion('2026-05-01T10:00:02Z', [again]));
        const mine = async (): Promise<unknown[]> => (await store.pendingOutboxes(1000)).filter((p) => p.messageSid === withEvents.messageSid || p.messageSid === plain.messageSid);
        expect(await mine()).to.deep.equal([{ messageSid: withEvents.messageSid, events: [again] }]);
        await store.clearOutbox(withEvents.messageSid);
        expect(await mine()).to.deep.equal([]);
        expect((await store.getMessage(withEvents.messageSid))?.outbox, 'the outbox stays on the record, for audit').to.deep.equal([again]);
      });
    });

    describe('patients and appointments', function () {
      it('when patients share a phone, then findPatientsByPhone returns those of the clinic, by id', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const b = aPatient({ clinicId, id: `${clinicId}-b`, phone });
        const a = aPatient({ clinicId, id: `${clinicId}-a`, phone, language: 'es' });
        await store.upsertPatients([b, a, aPatient({ clinicId, phone: newPhone() }), aPatient({ clinicId: newClinicId(), phone })]);
        expect(await store.findPatientsByPhone(clinicId, phone)).to.deep.equal([a, b]);
        expect(await store.findPatientsByPhone(clinicId, newPhone())).to.deep.equal([]);
      });

      it('when staff look a patient up by name, then every word must start the first or last name (letter case aside), only the clinic\'s, by last then first name, at most the limit; getPatient finds one of the clinic by id', async function () {
        const clinicId = newClinicId();
        const dylan = aPatient({ clinicId, id: `${clinicId}-1`, firstName: 'Dylan', lastName: 'Park' });
        const carla = aPatient({ clinicId, id: `${clinicId}-2`, firstName: 'Carla', lastName: 'Park' });
        const parker = aPatient({ clinicId, id: `${clinicId}-3`, firstName: 'Ann', lastName: 'Parker' });
        const other = aPatient({ clinicId: newClinicId(), firstName: 'Dylan', lastName: 'Park' });
        const dotted = aPatient({ clinicId, id: `${clinicId}-4`, firstName: 'J.R.', lastName: 'Smith' });
        await store.upsertPatients([dylan, carla, parker, other, dotted]);
        expect(await store.searchPatientsByName(clinicId, ['park'], 10)).to.deep.equal([carla, dylan, parker]);
        expect(await store.searchPatientsByName(clinicId, ['PARK', 'dy'], 10)).to.deep.equal([dylan]);
        expect(await store.searchPatientsByName(clinicId, ['ark'], 10), 'a prefix, not any part').to.deep.equal([]);
        expect(await store.searchPatientsByName(clinicId, ['park'], 2)).to.deep.equal([carla, dylan]);
        expect(await store.searchPatientsByName(clinicId, ['j.r'], 10), 'regex characters are literal').to.deep.equal([dotted]);
        expect(await store.searchPatientsByName(clinicId, ['j.*'], 10)).to.deep.equal([]);
        expect(await store.searchPatientsByName(clinicId, [], 10)).to.deep.equal([]);
        expect(await store.getPatient(clinicId, dylan.id)).to.deep.equal(dylan);
        expect(await store.getPatient(clinicId, other.id), 'another clinic\'s patient').to.equal(null);
        expect(await store.getPatient(clinicId, `${clinicId}-missing`)).to.equal(null);
      });

      it('when a sender is touched, then the patients on the phone come back with the count, as findPatientsByPhone gives them', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const b = aPatient({ clinicId, id: `${clinicId}-B`, phone });
        const a = aPatient({ clinicId, id: `${clinicId}-a`, phone, language: 'es' });
        await store.upsertPatients([a, b, aPatient({ clinicId, phone: newPhone() }), aPatient({ clinicId: newClinicId(), phone })]);
        const touched = await store.touchSender(clinicId, phone, window('w-roster'));
        expect(touched.patients).to.deep.equal(await store.findPatientsByPhone(clinicId, phone));
        expect(touched.patients.map((p) => p.id)).to.deep.equal([b.id, a.id]); // code-unit order, as MongoDB sorts
        expect((await store.touchSender(clinicId, newPhone(), window('w-roster'))).patients).to.deep.equal([]);
      });

      it('when an import edits a patient, moves one to another phone or adds one, then the next touch of each phone says so', async function () {
        const clinicId = newClinicId();
        const home = newPhone();
        const cell = newPhone();
        const w = window('w-moves');
        const mum = aPatient({ clinicId, id: `${clinicId}-1`, phone: home, firstName: 'Ana' });
        const kid = aPatient({ clinicId, id: `${clinicId}-2`, phone: home, firstName: 'Ben' });
        await store.upsertPatients([mum, kid]);
        expect((await store.touchSender(clinicId, home, w)).patients).to.deep.equal([mum, kid]);
        expect((await store.touchSender(clinicId, cell, w)).patients).to.deep.equal([]);

        const renamed = { ...mum, firstName: 'Anita' };
        const moved = { ...kid, phone: cell };
        const baby = aPatient({ clinicId, id: `${clinicId}-3`, phone: home, firstName: 'Cy' });
        await store.upsertPatients([renamed, moved, baby]);
        expect((await store.touchSender(clinicId, home, w)).patients).to.deep.equal([renamed, baby]);
        expect((await store.touchSender(clinicId, cell, w)).patients).to.deep.equal([moved]);
        expect(await store.findPatientsByPhone(clinicId, home)).to.deep.equal([renamed, baby]);

        await store.upsertPatients([{ ...moved, phone: home }]);
        expect((await store.touchSender(clinicId, cell, w)).patients).to.deep.equal([]);
        expect((await store.touchSender(clinicId, home, w)).patients.map((p) => p.firstName)).to.deep.equal(['Anita', 'Ben', 'Cy']);
      });

      it('when upserting, then the summary counts inserted, updated and unchanged rows', async function () {
        const clinicId = newClinicId();
        const p1 = aPatient({ clinicId });
        const p2 = aPatient({ clinicId, language: 'es' });
        const p3 = aPatient({ clinicId });
        expect(await store.upsertPatients([p1, p2, p3])).to.deep.equal({ inserted: 3, updated: 0, unchanged: 0 });
        expect(await store.upsertPatients([p1, p2, p3])).to.deep.equal({ inserted: 0, updated: 0, unchanged: 3 });
        const p4 = aPatient({ clinicId });
        const p2b = { ...p2, lastName: 'Díaz-Ruiz' };
        expect(await store.upsertPatients([p1, p2b, p3, p4])).to.deep.equal({ inserted: 1, updated: 1, unchanged: 2 });
        const { language: _dropped, ...p2c } = p2b;
        expect(await store.upsertPatients([p2c])).to.deep.equal({ inserted: 0, updated: 1, unchanged: 0 });
        expect(await store.findPatientsByPhone(clinicId, p1.phone)).to.deep.include(p2c);

        const a1 = anAppointment({ clinicId, patientId: p1.id, provider: 'Dr. Lee' });
        const a2 = anAppointment({ clinicId, patientId: p1.id });
        expect(await store.upsertAppointments([a1, a2])).to.deep.equal({ inserted: 2, updated: 0, unchanged: 0, retiredResponses: 0 });
        expect(await store.upsertAppointments([a1, { ...a2, status: 'confirmed' }])).to.deep.equal({ inserted: 0, updated: 1, unchanged: 1, retiredResponses: 0 });
        expect(await store.getAppointment(a1.id)).to.deep.equal(a1);
        expect(await store.getAppointment('a-missing')).to.equal(null);
      });

      it('when the next appointment is asked for, then the soonest upcoming, not cancelled, among the patients comes back', async function () {
        const clinicId = newClinicId();
        const [p1, p2, p3] = [aPatient({ clinicId }), aPatient({ clinicId }), aPatient({ clinicId })];
        const past = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-05-31T12:00:00Z') });
        const cancelled = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-06-01T13:00:00Z'), status: 'cancelled' });
        const soonest = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-06-02T09:00:00Z'), status: 'confirmed' });
        const later = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-06-03T09:00:00Z') });
        const otherPatient = anAppointment({ clinicId, patientId: p3.id, startsAt: at('2026-06-01T12:30:00Z') });
        await store.upsertAppointments([past, cancelled, soonest, later, otherPatient]);
        expect(await store.findNextAppointment(clinicId, [p1.id, p2.id], NOW)).to.deep.equal(soonest);
        expect(await store.findNextAppointment(clinicId, [], NOW)).to.equal(null);
        expect(await store.findNextAppointment(newClinicId(), [p1.id], NOW)).to.equal(null);
      });

      it('when the next appointment is advanced, then the soonest upcoming one among the patients gets the response, skipping past, cancelled and other patients\' ones', async function () {
        const clinicId = newClinicId();
        const [p1, p2, p3] = [aPatient({ clinicId }), aPatient({ clinicId }), aPatient({ clinicId })];
        const past = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-06-01T11:59:59Z') });
        const cancelled = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-06-01T12:30:00Z'), status: 'cancelled' });
        const tieB = anAppointment({ clinicId, patientId: p2.id, id: `${clinicId}-b`, startsAt: at('2026-06-02T09:00:00Z') });
        const tieA = anAppointment({ clinicId, patientId: p1.id, id: `${clinicId}-a`, startsAt: at('2026-06-02T09:00:00Z') });
        const later = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-06-09T09:00:00Z'), provider: 'Dr. Lee' });
        const notTheirs = anAppointment({ clinicId, patientId: p3.id, startsAt: at('2026-06-01T12:10:00Z') });
        await store.upsertAppointments([past, cancelled, tieB, tieA, later, notTheirs]);

        const [sid1, sid2, sid3] = [newSid(), newSid(), newSid()];
        const first = await store.advanceNextAppointment(clinicId, [p1.id, p2.id], NOW, 'confirmed', by(sid1));
        expect(first).to.deep.equal({ before: tieA, after: { ...tieA, patientResponse: { kind: 'confirmed', at: NOW, messageSid: sid1 } } });
        expect(await store.getAppointment(tieA.id)).to.deep.equal(first.after);

        const again = await store.advanceNextAppointment(clinicId, [p1.id, p2.id], at('2026-06-01T12:05:00Z'), 'confirmed', by(sid2, '2026-06-01T12:05:00Z'));
        expect(again).to.deep.equal({ before: first.after, after: first.after });

        const cancel = await store.advanceNextAppointment(clinicId, [p2.id, p1.id], NOW, 'cancel-requested', by(sid3));
        expect(cancel.after).to.deep.equal({ ...tieA, patientResponse: { kind: 'cancel-requested', at: NOW, messageSid: sid3 } });
        const reschedule = await store.advanceNextAppointment(clinicId, [p1.id, p2.id], NOW, 'reschedule-requested', by(newSid()));
        expect(reschedule).to.deep.equal({ before: cancel.after, after: cancel.after });

        for (const untouched of [past, cancelled, tieB, later, notTheirs]) {
          expect(await store.getAppointment(untouched.id)).to.deep.equal(untouched);
        }
        expect(await store.advanceNextAppointment(clinicId, [], NOW, 'confirmed', by(newSid()))).to.deep.equal({ before: null, after: null });
        expect(await store.advanceNextAppointment(newClinicId(), [p1.id], NOW, 'confirmed', by(newSid()))).to.deep.equal({ before: null, after: null });
        expect(await store.advanceNextAppointment(clinicId, [p3.id], at('2026-06-01T12:10:01Z'), 'confirmed', by(newSid()))).to.deep.equal({ before: null, after: null });
      });

      it('when the patient already sees the target or beyond on the soonest appointment, then nothing moves, not even a later one', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const soonest = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-02T09:00:00Z') });
        const later = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-03T09:00:00Z') });
        await store.upsertAppointments([soonest, later]);
        const { after: requested } = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'cancel-requested', by(newSid()));
        for (const to of ['confirmed', 'reschedule-requested', 'cancel-requested'] as const) {
          // A later message: at the same kind the earlier response stays.
          expect(await store.advanceNextAppointment(clinicId, [p.id], NOW, to, by(newSid(), '2026-06-01T12:01:00Z'))).to.deep.equal({ before: requested, after: requested });
        }
        expect(await store.getAppointment(soonest.id)).to.deep.equal(requested);
        expect(await store.getAppointment(later.id)).to.deep.equal(later);
      });

      it('when the practice confirmed an appointment (imported confirmed), then a CONFIRM records nothing and a cancel request is recorded over it', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const confirmed = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-02T09:00:00Z'), status: 'confirmed' });
        await store.upsertAppointments([confirmed]);
        expect(await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid()))).to.deep.equal({ before: confirmed, after: confirmed });
        const sid = newSid();
        const cancel = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'cancel-requested', by(sid));
        expect(cancel.after).to.deep.equal({ ...confirmed, patientResponse: { kind: 'cancel-requested', at: NOW, messageSid: sid } });
        expect(appointmentStatus(cancel.after!)).to.equal('cancel-requested');
      });

      it('when the soonest appointment of a family phone is another patient\'s, then that one gets the response', async function () {
        const clinicId = newClinicId();
        const [parent, child] = [aPatient({ clinicId }), aPatient({ clinicId })];
        const parents = anAppointment({ clinicId, patientId: parent.id, startsAt: at('2026-06-05T09:00:00Z') });
        const childs = anAppointment({ clinicId, patientId: child.id, startsAt: at('2026-06-04T09:00:00Z'), status: 'confirmed' });
        await store.upsertAppointments([parents, childs]);
        const sid = newSid();
        const moved = await store.advanceNextAppointment(clinicId, [parent.id, child.id], NOW, 'reschedule-requested', by(sid));
        expect(moved.before).to.deep.equal(childs);
        expect(moved.after).to.deep.equal({ ...childs, patientResponse: { kind: 'reschedule-requested', at: NOW, messageSid: sid } });
        expect(await store.getAppointment(parents.id)).to.deep.equal(parents);
      });

      it('when an appointment already shows the target (a patient\'s earlier response, or the practice\'s confirmed), then that response (or its lack of one) is kept, and a re-import of it is unchanged', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const answered = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-02T09:00:00Z') });
        const plain = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-03T09:00:00Z'), status: 'confirmed' });
        await store.upsertAppointments([answered, plain]);
        const { after: stamped } = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid(), '2026-05-30T08:00:00Z'));
        expect(stamped?.patientResponse?.at).to.deep.equal(at('2026-05-30T08:00:00Z'));
        expect(await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid()))).to.deep.equal({ before: stamped, after: stamped });
        expect(await store.advanceNextAppointment(clinicId, [p.id], at('2026-06-02T10:00:00Z'), 'confirmed', by(newSid(), '2026-06-02T10:00:00Z'))).to.deep.equal({ before: plain, after: plain });
        expect(await store.upsertAppointments([answered, plain])).to.deep.equal({ inserted: 0, updated: 0, unchanged: 2, retiredResponses: 0 });
        expect(await store.getAppointment(answered.id)).to.deep.equal(stamped);
        const moved = await store.advanceNextAppointment(clinicId, [p.id], at('2026-06-02T10:00:00Z'), 'cancel-requested', by(newSid(), '2026-06-02T10:00:00Z'));
        expect(await store.upsertAppointments([moved.after!])).to.deep.equal({ inserted: 0, updated: 0, unchanged: 1, retiredResponses: 0 });
      });

      it('when an advance carries a time older than the appointment\'s patient response, then nothing moves, not even a later appointment, and after says the newer time', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-02T09:00:00Z') });
        const later = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-03T09:00:00Z') });
        await store.upsertAppointments([a, later]);
        const newerSid = newSid();
        const confirmed = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newerSid, '2026-06-01T12:00:05Z'));
        expect(confirmed.after).to.deep.equal({ ...a, patientResponse: { kind: 'confirmed', at: at('2026-06-01T12:00:05Z'), messageSid: newerSid } });

        // A CANCEL sent before that CONFIRM, handled after it (a replay from the spool).
        const staleCancel = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'cancel-requested', by(newSid(), '2026-06-01T11:59:00Z'));
        expect(staleCancel).to.deep.equal({ before: confirmed.after, after: confirmed.after });
        const staleConfirm = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid(), '2026-06-01T11:59:00Z'));
        expect(staleConfirm).to.deep.equal({ before: confirmed.after, after: confirmed.after });
        expect(await store.getAppointment(a.id)).to.deep.equal(confirmed.after);
        expect(await store.getAppointment(later.id)).to.deep.equal(later);

        // A response sent after the last one moves it, stamped with its own time and sid.
        const newestSid = newSid();
        const cancel = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'cancel-requested', by(newestSid, '2026-06-01T12:00:06Z'));
        expect(cancel).to.deep.equal({ before: confirmed.after, after: { ...a, patientResponse: { kind: 'cancel-requested', at: at('2026-06-01T12:00:06Z'), messageSid: newestSid } } });
      });

      it('when an advance to the response it already has carries a newer time, then the response keeps the first message\'s time and sid', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id });
        await store.upsertAppointments([a]);
        const sid = newSid();
        const first = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(sid));
        const again = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid(), '2026-06-01T12:00:05Z'));
        expect(again).to.deep.equal({ before: first.after, after: first.after });
        expect(await store.getAppointment(a.id)).to.deep.equal({ ...a, patientResponse: { kind: 'confirmed', at: NOW, messageSid: sid } });
      });

      it('when the message that recorded a response asks again (a retry), then nothing changes and the response still names it', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id });
        await store.upsertAppointments([a]);
        const sid = newSid();
        const first = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(sid));
        const retry = await store.advanceNextAppointment(clinicId, [p.id], at('2026-06-01T12:00:30Z'), 'confirmed', by(sid, '2026-06-01T12:00:30Z'));
        expect(retry).to.deep.equal({ before: first.after, after: first.after });
        expect(retry.before?.patientResponse?.messageSid).to.equal(sid);
      });

      it('when a response of the same kind carries an earlier time (a late replay, or clock skew), then it is refused and the standing response is kept; at the same time the smaller MessageSid is kept on both stores', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id });
        await store.upsertAppointments([a]);
        const first = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid(), '2026-06-01T12:00:05Z'));
        const skewed = await store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid()));
        expect(skewed).to.deep.equal({ before: first.after, after: first.after });
        expect(await store.getAppointment(a.id)).to.deep.equal(first.after);

        const b = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-02T09:00:00Z') });
        await store.upsertAppointments([b]);
        const [small, large] = [newSid(), newSid()].sort();
        const tie = at('2026-06-01T12:30:00Z');
        await store.advanceNextAppointment(clinicId, [p.id], at('2026-06-01T12:30:00Z'), 'confirmed', { at: tie, messageSid: large! });
        const smaller = await store.advanceNextAppointment(clinicId, [p.id], at('2026-06-01T12:30:00Z'), 'confirmed', { at: tie, messageSid: small! });
        expect(smaller.after).to.deep.equal({ ...b, patientResponse: { kind: 'confirmed', at: tie, messageSid: small } });
        expect(await store.getAppointment(b.id)).to.deep.equal(smaller.after);
      });

      it('when advances of one appointment race, then exactly one sees the move', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id });
        await store.upsertAppointments([a]);
        const sid = newSid();
        const results = await Promise.all(Array.from({ length: 6 }, () => store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(sid))));
        const moves = results.filter((r) => r.before?.patientResponse === undefined);
        expect(moves).to.have.length(1);
        const expected = { ...a, patientResponse: { kind: 'confirmed', at: NOW, messageSid: sid } };
        for (const r of results) {
          expect(r.after).to.deep.equal(expected);
        }
        expect(await store.getAppointment(a.id)).to.deep.equal(expected);
      });

      it('when a CONFIRM and a CANCEL race on one appointment, then it ends cancel-requested whichever ran first', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id });
        await store.upsertAppointments([a]);
        const [confirm, cancel] = await Promise.all([
          store.advanceNextAppointment(clinicId, [p.id], NOW, 'confirmed', by(newSid())),
          store.advanceNextAppointment(clinicId, [p.id], NOW, 'cancel-requested', by(newSid())),
        ]);
        expect(appointmentStatus(cancel.before!)).to.not.equal(appointmentStatus(cancel.after!));
        expect(appointmentStatus(confirm.after!)).to.be.oneOf(['confirmed', 'cancel-requested']);
        expect(appointmentStatus((await store.getAppointment(a.id))!)).to.equal('cancel-requested');
      });
    });

    describe('re-imports and patient responses', function () {
      /** A patient, an appointment of theirs, and a cancel request on it by a message. */
      async function requested(): Promise<{ clinicId: string; a: Appointment; sid: string; response: PatientResponse }> {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        const a = anAppointment({ clinicId, patientId: p.id, startsAt: at('2026-06-05T09:00:00Z'), provider: 'Dr. Lee' });
        await store.upsertPatients([p]);
        await store.upsertAppointments([a]);
        const sid = newSid();
        await store.advanceNextAppointment(clinicId, [p.id], NOW, 'cancel-requested', by(sid));
        return { clinicId, a, sid, response: { kind: 'cancel-requested', at: NOW, messageSid: sid } };
      }
      const IMPORT_AT = at('2026-06-01T13:00:00Z');

      it('when the same practice file is imported again, then the patient\'s response stays and nothing counts as updated', async function () {
        const { a, response } = await requested();
        expect(await store.upsertAppointments([a], { at: IMPORT_AT })).to.deep.equal({ inserted: 0, updated: 0, unchanged: 1, retiredResponses: 0 });
        expect(await store.getAppointment(a.id)).to.deep.equal({ ...a, patientResponse: response });
      });

      it('when a re-import changes only the provider or confirms at the office, then the practice fields change and the response stays', async function () {
        const { a, response } = await requested();
        const edited = { ...a, provider: 'Dr. Ng', status: 'confirmed' as const };
        expect(await store.upsertAppointments([edited], { at: IMPORT_AT })).to.deep.equal({ inserted: 0, updated: 1, unchanged: 0, retiredResponses: 0 });
        const stored = await store.getAppointment(a.id);
        expect(stored).to.deep.equal({ ...edited, patientResponse: response });
        expect(appointmentStatus(stored!)).to.equal('cancel-requested');
      });

      it('when a row carries a patientResponse of its own, then the import ignores it: only SMS writes the response', async function () {
        const { a, response } = await requested();
        const forged = { ...a, provider: 'Dr. Ng', patientResponse: { kind: 'confirmed' as const, at: IMPORT_AT, messageSid: newSid() } };
        await store.upsertAppointments([forged], { at: IMPORT_AT });
        expect((await store.getAppointment(a.id))?.patientResponse).to.deep.equal(response);
      });

      it('when a re-import moves startsAt, then the response is retired into responseHistory, and the next message answers about the new time', async function () {
        const { clinicId, a, response } = await requested();
        const moved = { ...a, startsAt: at('2026-06-08T09:00:00Z') };
        expect(await store.upsertAppointments([moved], { at: IMPORT_AT })).to.deep.equal({ inserted: 0, updated: 1, unchanged: 0, retiredResponses: 1 });
        const stored = await store.getAppointment(a.id);
        expect(stored).to.deep.equal({ ...moved, responseHistory: [{ ...response, retiredAt: IMPORT_AT, reason: 'moved' }] });
        expect(appointmentStatus(stored!)).to.equal('scheduled');
        const sid = newSid();
        const confirm = await store.advanceNextAppointment(clinicId, [a.patientId], NOW, 'confirmed', by(sid));
        expect(confirm.after?.patientResponse).to.deep.equal({ kind: 'confirmed', at: NOW, messageSid: sid });
        expect(confirm.after?.responseHistory).to.deep.equal(stored?.responseHistory);
      });

      it('when a re-import cancels, then the response is retired with reason cancelled and the patient sees cancelled', async function () {
        const { a, response } = await requested();
        const cancelled = { ...a, status: 'cancelled' as const };
        expect(await store.upsertAppointments([cancelled], { at: IMPORT_AT })).to.deep.equal({ inserted: 0, updated: 1, unchanged: 0, retiredResponses: 1 });
        const stored = await store.getAppointment(a.id);
        expect(stored).to.deep.equal({ ...cancelled, responseHistory: [{ ...response, retiredAt: IMPORT_AT, reason: 'cancelled' }] });
        expect(appointmentStatus(stored!)).to.equal('cancelled');
        expect(await store.upsertAppointments([cancelled], { at: IMPORT_AT })).to.deep.include({ unchanged: 1, retiredResponses: 0 });
      });

      it('when an import is a dry run, then it counts inserts, updates and the responses it would retire, and writes nothing', async function () {
        const { clinicId, a, response } = await requested();
        const other = await requested();
        const fresh = anAppointment({ clinicId, patientId: a.patientId, startsAt: at('2026-06-20T09:00:00Z') });
        const rows = [{ ...a, startsAt: at('2026-06-09T09:00:00Z') }, { ...other.a, provider: 'Dr. Ng' }, fresh];
        expect(await store.upsertAppointments(rows, { dryRun: true, at: IMPORT_AT })).to.deep.equal({ inserted: 1, updated: 2, unchanged: 0, retiredResponses: 1 });
        expect(await store.getAppointment(a.id)).to.deep.equal({ ...a, patientResponse: response });
        expect(await store.getAppointment(fresh.id)).to.equal(null);
        const p = aPatient({ clinicId, phone: newPhone() });
        expect(await store.upsertPatients([p], { dryRun: true })).to.deep.equal({ inserted: 1, updated: 0, unchanged: 0 });
        expect(await store.findPatientsByPhone(clinicId, p.phone)).to.deep.equal([]);
      });

      it('when patient ids are looked up, then the stored ones come back with their clinic and unknown ones are absent', async function () {
        const clinicId = newClinicId();
        const p = aPatient({ clinicId });
        await store.upsertPatients([p]);
        expect(await store.findPatientClinics([p.id, 'p-nobody'])).to.deep.equal(new Map([[p.id, clinicId]]));
        expect(await store.findPatientClinics([])).to.deep.equal(new Map());
      });
    });

    describe('family choices and the conversation\'s memory (sender state)', function () {
      const choiceOf = (messageSid: string, askedAt: string, appointmentId = 'a-1'): PendingChoice => ({
        action: 'confirm-appointment',
        options: [
          { appointmentId, patientId: 'p-1', firstName: 'Dylan', startsAt: at('2026-06-03T14:00:00Z') },
          { appointmentId: 'a-2', patientId: 'p-2', firstName: 'Carla', startsAt: at('2026-06-07T14:00:00Z') },
        ],
        messageSid,
        askedAt: at(askedAt),
        expiresAt: at('2026-06-02T12:00:00Z'),
        attempts: 0,
        language: 'en',
      });

      it('when a choice is saved, then the next touch of the sender returns it; an older one does not replace it, a newer one does', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        await store.touchSender(clinicId, phone, window('w'));
        const first = choiceOf('SMfirst', '2026-06-01T12:00:00Z');
        expect(await store.saveChoice(clinicId, phone, first)).to.equal(true);
        expect((await store.touchSender(clinicId, phone, window('w'))).choice).to.deep.equal(first);
        expect(await store.saveChoice(clinicId, phone, choiceOf('SMolder', '2026-06-01T11:00:00Z'))).to.equal(false);
        expect((await store.peekSender(clinicId, phone)).choice).to.deep.equal(first);
        const again = { ...first, attempts: 1 };
        expect(await store.saveChoice(clinicId, phone, again)).to.equal(true);
        const newer = choiceOf('SMnewer', '2026-06-01T12:05:00Z', 'a-9');
        expect(await store.saveChoice(clinicId, phone, newer)).to.equal(true);
        expect((await store.peekSender(clinicId, phone)).choice).to.deep.equal(newer);
        expect((await store.peekSender(clinicId, newPhone())).choice).to.equal(undefined);
      });

      it('when a choice is cleared by the message that asked it, then it is gone; cleared by another, it stays', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const choice = choiceOf('SMasked', '2026-06-01T12:00:00Z');
        await store.saveChoice(clinicId, phone, choice);
        await store.clearChoice(clinicId, phone, 'SMother');
        expect((await store.peekSender(clinicId, phone)).choice).to.deep.equal(choice);
        await store.clearChoice(clinicId, phone, 'SMasked');
        expect((await store.touchSender(clinicId, phone, window('w'))).choice).to.equal(undefined);
      });

      it('when staff activity and automatic replies are noted, then the newest time of each stands and comes back with the sender', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        await store.noteStaffActivity(clinicId, phone, at('2026-06-01T10:00:00Z'));
        await store.noteStaffActivity(clinicId, phone, at('2026-06-01T09:00:00Z'));
        await store.noteAutoReply(clinicId, phone, 'after-hours', at('2026-06-01T08:00:00Z'));
        await store.noteAutoReply(clinicId, phone, 'after-hours', at('2026-06-01T07:00:00Z'));
        await store.noteAutoReply(clinicId, phone, 'unknown-number', at('2026-06-01T06:00:00Z'));
        const touched = await store.touchSender(clinicId, phone, window('w'));
        expect(touched.staffAt).to.deep.equal(at('2026-06-01T10:00:00Z'));
        expect(touched.autoReplies).to.deep.equal({ 'after-hours': at('2026-06-01T08:00:00Z'), 'unknown-number': at('2026-06-01T06:00:00Z') });
        expect(await store.peekSender(clinicId, phone)).to.deep.equal({ staffAt: touched.staffAt, autoReplies: touched.autoReplies });
        expect(touched.count).to.equal(1);
      });

      it('when upcoming appointments are listed, then those of the patients in [now, until), not cancelled, come soonest first', async function () {
        const clinicId = newClinicId();
        const [p1, p2, p3] = [aPatient({ clinicId }), aPatient({ clinicId }), aPatient({ clinicId })];
        const past = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-05-31T12:00:00Z') });
        const cancelled = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-06-01T13:00:00Z'), status: 'cancelled' });
        const second = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-06-04T09:00:00Z') });
        const first = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-06-02T09:00:00Z') });
        const tooLate = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-07-20T09:00:00Z') });
        const other = anAppointment({ clinicId, patientId: p3.id, startsAt: at('2026-06-02T08:00:00Z') });
        await store.upsertAppointments([past, cancelled, second, first, tooLate, other]);
        expect(await store.findUpcomingAppointments(clinicId, [p1.id, p2.id], NOW, at('2026-07-01T00:00:00Z'))).to.deep.equal([first, second]);
        expect(await store.findUpcomingAppointments(clinicId, [], NOW, at('2026-07-01T00:00:00Z'))).to.deep.equal([]);
      });

      it('when a chosen appointment is advanced, then it (not the soonest) gets the response; one not upcoming or another family\'s does not move; a newer response stands', async function () {
        const clinicId = newClinicId();
        const [p1, p2] = [aPatient({ clinicId }), aPatient({ clinicId })];
        const soonest = anAppointment({ clinicId, patientId: p1.id, startsAt: at('2026-06-02T09:00:00Z') });
        const chosen = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-06-05T09:00:00Z') });
        const past = anAppointment({ clinicId, patientId: p2.id, startsAt: at('2026-05-20T09:00:00Z') });
        await store.upsertAppointments([soonest, chosen, past]);
        const moved = await store.advanceAppointment(clinicId, [p1.id, p2.id], chosen.id, NOW, 'confirmed', by('SMpick'));
        expect(moved.before && appointmentStatus(moved.before)).to.equal('scheduled');
        expect(moved.after?.patientResponse).to.deep.equal({ kind: 'confirmed', at: NOW, messageSid: 'SMpick' });
        expect((await store.getAppointment(soonest.id))?.patientResponse).to.equal(undefined);
        expect(await store.advanceAppointment(clinicId, [p1.id], chosen.id, NOW, 'confirmed', by('SMx'))).to.deep.equal({ before: null, after: null });
        expect(await store.advanceAppointment(clinicId, [p2.id], past.id, NOW, 'confirmed', by('SMx'))).to.deep.equal({ before: null, after: null });
        const stale = await store.advanceAppointment(clinicId, [p2.id], chosen.id, NOW, 'cancel-requested', by('SMold', '2026-06-01T11:00:00Z'));
        expect(stale.after?.patientResponse?.messageSid).to.equal('SMpick');
        const blocked = await store.advanceAppointment(clinicId, [p2.id], chosen.id, NOW, 'confirmed', by('SMagain', '2026-06-01T12:30:00Z'));
        expect(blocked.before).to.deep.equal(blocked.after);
      });
    });

    describe('senders: rate counters and opt-out', function () {
      it('when a sender is touched, then the count grows within a window and restarts in a new one', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const w1 = window('2026-06-01T12:00:00.000Z');
        expect(await store.touchSender(clinicId, phone, w1)).to.deep.equal({ count: 1, optedOut: false, patients: [] });
        expect(await store.touchSender(clinicId, phone, w1)).to.deep.equal({ count: 2, optedOut: false, patients: [] });
        expect(await store.touchSender(clinicId, newPhone(), w1)).to.deep.equal({ count: 1, optedOut: false, patients: [] });
        expect(await store.touchSender(newClinicId(), phone, w1)).to.deep.equal({ count: 1, optedOut: false, patients: [] });
        const w2 = window('2026-06-01T12:01:00.000Z');
        expect(await store.touchSender(clinicId, phone, w2)).to.deep.equal({ count: 1, optedOut: false, patients: [] });
        expect(await store.touchSender(clinicId, phone, w2)).to.deep.equal({ count: 2, optedOut: false, patients: [] });
      });

      it('when many touches of one sender run at once, then none is lost', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const w = window('w-concurrent');
        const results = await Promise.all(Array.from({ length: 20 }, () => store.touchSender(clinicId, phone, w)));
        expect(results.map((r) => r.count).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(await store.touchSender(clinicId, phone, w)).to.deep.equal({ count: 21, optedOut: false, patients: [] });
      });

      it('when a sender was only counted, then getOptOut returns null', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        await store.touchSender(clinicId, phone, window('w'));
        expect(await store.getOptOut(clinicId, phone)).to.equal(null);
        expect(await store.getOptOut(clinicId, newPhone())).to.equal(null);
      });

      it('when a sender opts out and back in, then the record round-trips and the counters are not disturbed', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const w = window('2026-06-01T12:00');
        await store.touchSender(clinicId, phone, w);
        await store.touchSender(clinicId, phone, w);
        const out = anOptOut({ clinicId, phone });
        await store.setOptOut(out);
        expect(await store.getOptOut(clinicId, phone)).to.deep.equal(out);
        expect(await store.touchSender(clinicId, phone, w)).to.deep.equal({ count: 3, optedOut: true, patients: [] });

        const back = { clinicId, phone, optedOut: false, changedAt: at('2026-06-01T12:00:30.5Z') };
        await store.setOptOut(back);
        expect(await store.getOptOut(clinicId, phone)).to.deep.equal(back);
        expect(await store.touchSender(clinicId, phone, w)).to.deep.equal({ count: 4, optedOut: false, patients: [] });
      });

      it('when a sender opts out before ever being counted, then the first touch sees it', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        await store.setOptOut(anOptOut({ clinicId, phone }));
        expect(await store.touchSender(clinicId, phone, window('w'))).to.deep.equal({ count: 1, optedOut: true, patients: [] });
      });

      it('when a consent change older than the stored one arrives, then it is refused with the newer state and nothing changes', async function () {
        for (const touchedFirst of [true, false]) {
          const clinicId = newClinicId();
          const phone = newPhone();
          if (touchedFirst) {
            await store.touchSender(clinicId, phone, window('w'));
          }
          const start = anOptOut({ clinicId, phone, optedOut: false, keyword: 'START', changedAt: at('2026-06-01T12:00:10Z') });
          expect(await store.setOptOut(start)).to.deep.equal({ applied: true });

          const staleStop = anOptOut({ clinicId, phone, optedOut: true, keyword: 'STOP', changedAt: at('2026-06-01T12:00:09.999Z') });
          expect(await store.setOptOut(staleStop)).to.deep.equal({ applied: false, current: start });
          expect(await store.getOptOut(clinicId, phone)).to.deep.equal(start);
          expect((await store.touchSender(clinicId, phone, window('w'))).optedOut).to.equal(false);

          // The same message again (a replay) applies: same time, same state.
          expect(await store.setOptOut(start)).to.deep.equal({ applied: true });
          const newerStop = anOptOut({ clinicId, phone, optedOut: true, changedAt: at('2026-06-01T12:00:11Z') });
          expect(await store.setOptOut(newerStop)).to.deep.equal({ applied: true });
          expect(await store.getOptOut(clinicId, phone)).to.deep.equal(newerStop);
        }
      });

      it('when consent changes of a new sender race, then the newest by time stands whatever order they land in', async function () {
        const clinicId = newClinicId();
        const phone = newPhone();
        const changes = Array.from({ length: 12 }, (_, i) =>
          anOptOut({ clinicId, phone, optedOut: i % 2 === 0, changedAt: new Date(NOW.getTime() + ((i * 7) % 12) * 1000) }),
        );
        const newest = changes.reduce((a, b) => (b.changedAt > a.changedAt ? b : a));
        const results = await Promise.all(changes.map((c) => store.setOptOut(c)));
        expect(await store.getOptOut(clinicId, phone)).to.deep.equal(newest);
        results.forEach((r, i) => {
          if (!r.applied) {
            expect(r.current.changedAt.getTime()).to.be.greaterThan(changes[i]!.changedAt.getTime());
          }
        });
      });
    });

    describe('copies', function () {
      it('when a returned or written object is mutated, then the stored state does not change', async function () {
        const clinicId = newClinicId();
        const patient = aPatient({ clinicId, phone: newPhone() });
        const written = { ...patient };
        await store.upsertPatients([written]);
        written.firstName = 'Mutated';
        const [read] = await store.findPatientsByPhone(clinicId, patient.phone);
        expect(read).to.deep.equal(patient);
        read!.lastName = 'Mutated';
        expect(await store.findPatientsByPhone(clinicId, patient.phone)).to.deep.equal([patient]);

        const appt = anAppointment({ clinicId, patientId: patient.id });
        await store.upsertAppointments([appt]);
        const gotAppt = await store.getAppointment(appt.id);
        gotAppt!.startsAt.setUTCFullYear(2000);
        gotAppt!.status = 'cancelled';
        expect(await store.getAppointment(appt.id)).to.deep.equal(appt);

        const record = aMessage({ clinicId });
        await store.claimMessage(record);
        const gotMessage = await store.getMessage(record.messageSid);
        gotMessage!.message.extra.FromCity = 'Mutated';
        gotMessage!.receivedAt.setUTCFullYear(2000);
        expect(await store.getMessage(record.messageSid)).to.deep.equal(record);

        const completion = {
          status: 'processed' as const,
          patientIds: [patient.id],
          rulesFired: ['help'],
          actions: [{ type: 'help', outcome: 'replied', ruleName: 'help' }],
          reply: 'Reply HELP for help.',
          completedAt: new Date('2026-06-01T15:00:00Z'),
        };
        await store.completeMessage(record.messageSid, completion);
        const completed = await store.getMessage(record.messageSid);
        completion.patientIds.push('p-x');
        completion.actions[0]!.outcome = 'Mutated';
        completion.completedAt.setUTCFullYear(2000);
        expect(await store.getMessage(record.messageSid)).to.deep.equal(completed);
        expect(completed).to.deep.include({ status: 'processed', patientIds: [patient.id], completedAt: new Date('2026-06-01T15:00:00Z') });

        const out = anOptOut({ clinicId, phone: patient.phone });
        await store.setOptOut(out);
        const gotOut = await store.getOptOut(clinicId, patient.phone);
        gotOut!.changedAt.setUTCFullYear(2000);
        expect(await store.getOptOut(clinicId, patient.phone)).to.deep.equal(out);
      });
    });
  });
}
