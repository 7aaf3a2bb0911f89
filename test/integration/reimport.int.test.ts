import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { runCli } from '../../src/cli/index.js';
import type { CliIO } from '../../src/cli/io.js';
import { parseClinics } from '../../src/config/clinics-file.js';
import { appointmentStatus } from '../../src/domain.js';
import { errorCode, findingsOf, type AppError } from '../../src/errors.js';
import { importData } from '../../src/import/import-data.js';
import { dropTestDb, getTestMongo, openTestMongoStore, uriWithDb } from '../support/mongo.js';
import { storeKinds } from '../support/store-kinds.js';
import { closingTestApps, inboundParams, signedRequest, uniquePhone, WEBHOOK_PATH, type TestApp } from '../support/test-app.js';

const CLINICS_YAML = `clinics:
  - id: downtown
    name: Downtown Family Clinic
    phoneNumbers: ["+13125550100"]
    timezone: America/Chicago
`;
const clinics = parseClinics(CLINICS_YAML, 'clinics.yaml').byId;

/** The practice system's file: one patient, one appointment. */
function practiceFile(ids: { patientId: string; appointmentId: string; phone: string }, startsAt: string, status = 'scheduled'): string {
  return `patients:
  - id: ${ids.patientId}
    clinicId: downtown
    firstName: Ana
    lastName: Diaz
    phone: "${ids.phone}"
appointments:
  - id: ${ids.appointmentId}
    clinicId: downtown
    patientId: ${ids.patientId}
    startsAt: ${startsAt}
    provider: Dr. Lee
    status: ${status}
`;
}

function ids(): { patientId: string; appointmentId: string; phone: string } {
  const phone = uniquePhone();
  return { phone, patientId: `p-${phone.slice(-6)}-${Date.now() % 100_000}`, appointmentId: `a-${phone.slice(-6)}-${Date.now() % 100_000}` };
}

async function text(t: TestApp, from: string, body: string): Promise<string> {
  const { body: form, signature } = signedRequest(inboundParams({ From: from, Body: body }));
  const res = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(form);
  expect(res.status).to.equal(200);
  return res.text;
}

for (const kind of storeKinds('reimport')) {
  describe(`imports never erase what a patient said (${kind.name})`, function () {
    const buildTestApp = closingTestApps();
    let t: TestApp;
    let dispose: (() => Promise<void>) | undefined;

    beforeEach(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      dispose = made!.dispose;
      t = await buildTestApp({ store: made!.store });
    });

    afterEach(async function () {
      await dispose?.();
      dispose = undefined;
    });

    it('when a patient asked to cancel by SMS and the same practice file is imported again, then the request stays and the import reports the appointment unchanged', async function () {
      const id = ids();
      const file = practiceFile(id, '2030-01-10T15:00:00Z');
      await importData(file, 'practice.yaml', { store: t.store, clinics });
      expect(await text(t, id.phone, 'cancel appt')).to.contain('cancel');

      const again = await importData(file, 'practice.yaml', { store: t.store, clinics });
      expect(again.appointments).to.deep.equal({ inserted: 0, updated: 0, unchanged: 1, retiredResponses: 0 });
      const stored = await t.store.getAppointment(id.appointmentId);
      expect(stored?.status).to.equal('scheduled');
      expect(stored?.patientResponse?.kind).to.equal('cancel-requested');
      expect(stored?.patientResponse?.messageSid).to.match(/^SM/);
      expect(appointmentStatus(stored!)).to.equal('cancel-requested');
      // The patient sees their request still: a second CANCEL is "already".
      expect(await text(t, id.phone, 'cancel appt')).to.match(/already have your request/);
    });

    it('when a re-import moves the appointment, then a dry run counts the response it would retire and writes nothing, and the import retires it into responseHistory', async function () {
      const id = ids();
      await importData(practiceFile(id, '2030-01-10T15:00:00Z'), 'practice.yaml', { store: t.store, clinics });
      await text(t, id.phone, 'CONFIRM');
      const confirmed = await t.store.getAppointment(id.appointmentId);
      const moved = practiceFile(id, '2030-01-17T15:00:00Z');

      const dry = await importData(moved, 'practice.yaml', { store: t.store, clinics, dryRun: true });
      expect(dry.appointments).to.deep.equal({ inserted: 0, updated: 1, unchanged: 0, retiredResponses: 1 });
      expect(await t.store.getAppointment(id.appointmentId)).to.deep.equal(confirmed);

      const real = await importData(moved, 'practice.yaml', { store: t.store, clinics });
      expect(real.appointments).to.deep.equal({ inserted: 0, updated: 1, unchanged: 0, retiredResponses: 1 });
      const stored = await t.store.getAppointment(id.appointmentId);
      expect(stored?.patientResponse).to.equal(undefined);
      expect(stored?.responseHistory).to.have.length(1);
      expect(stored?.responseHistory?.[0]).to.deep.include({ ...confirmed!.patientResponse, reason: 'moved' });
      // The new time is not confirmed yet: CONFIRM confirms it.
      expect(await text(t, id.phone, 'CONFIRM')).to.match(/is confirmed/);
    });

    it('when the practice cancels in a re-import, then the response is retired with reason cancelled and CONFIRM finds no appointment', async function () {
      const id = ids();
      await importData(practiceFile(id, '2030-01-10T15:00:00Z'), 'practice.yaml', { store: t.store, clinics });
      await text(t, id.phone, 'RESCHEDULE');
      const summary = await importData(practiceFile(id, '2030-01-10T15:00:00Z', 'cancelled'), 'practice.yaml', { store: t.store, clinics });
      expect(summary.appointments.retiredResponses).to.equal(1);
      const stored = await t.store.getAppointment(id.appointmentId);
      expect(stored?.responseHistory?.map((r) => [r.kind, r.reason])).to.deep.equal([['reschedule-requested', 'cancelled']]);
      expect(appointmentStatus(stored!)).to.equal('cancelled');
      expect(await text(t, id.phone, 'CONFIRM')).to.match(/could not find an upcoming appointment/);
    });

    it('when an appointment names a patient neither in the file nor in the store, then the import fails at its line and column and writes nothing', async function () {
      const id = ids();
      const file = `appointments:
  - id: ${id.appointmentId}
    clinicId: downtown
    patientId: p-nobody-${id.patientId}
    startsAt: 2030-01-10T15:00:00Z
`;
      const err = await importData(file, 'orphans.yaml', { store: t.store, clinics }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(errorCode(err)).to.equal('IMPORT_INVALID');
      expect(findingsOf(err as AppError, 'orphans.yaml').map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
        `orphans.yaml:4:16: appointment "${id.appointmentId}": no patient "p-nobody-${id.patientId}" in the file or in the database`,
      ]);
      expect(await t.store.getAppointment(id.appointmentId)).to.equal(null);

      // A patient the store already holds is enough.
      await importData(practiceFile(id, '2030-01-10T15:00:00Z'), 'practice.yaml', { store: t.store, clinics });
      const later = `appointments:\n  - { id: ${id.appointmentId}-2, clinicId: downtown, patientId: ${id.patientId}, startsAt: "2030-02-10T15:00:00Z" }\n`;
      expect((await importData(later, 'later.yaml', { store: t.store, clinics })).appointments.inserted).to.equal(1);
    });

    it('when a file still writes a patient request as the status (the earlier format), then it is read as scheduled with a warning, and the stored response stays', async function () {
      const id = ids();
      await importData(practiceFile(id, '2030-01-10T15:00:00Z'), 'practice.yaml', { store: t.store, clinics });
      await text(t, id.phone, 'CONFIRM');
      const summary = await importData(practiceFile(id, '2030-01-10T15:00:00Z', 'cancel-requested'), 'practice.yaml', { store: t.store, clinics });
      expect(summary.appointments).to.deep.equal({ inserted: 0, updated: 0, unchanged: 1, retiredResponses: 0 });
      expect(appointmentStatus((await t.store.getAppointment(id.appointmentId))!)).to.equal('confirmed');
    });
  });
}

describe('clinic-sms import --dry-run against MongoDB', function () {
  const buildTestApp = closingTestApps();
  it('when a re-import would move an appointment a patient confirmed, then the dry run prints the response it would retire and writes nothing; without MONGODB_URI it says what it did not check', async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    const handle = await openTestMongoStore(server!, { label: 'import_dry' });
    const dir = await mkdtemp(join(tmpdir(), 'clinic-sms-reimport-'));
    try {
      const t = await buildTestApp({ store: handle.store });
      const id = ids();
      await writeFile(join(dir, 'clinics.yaml'), CLINICS_YAML);
      await writeFile(join(dir, 'first.yaml'), practiceFile(id, '2030-01-10T15:00:00Z'));
      await writeFile(join(dir, 'moved.yaml'), practiceFile(id, '2030-01-17T15:00:00Z', 'reschedule-requested'));
      const io = (env: Record<string, string>): CliIO & { stdout: string[]; stderr: string[] } => {
        const stdout: string[] = [];
        const stderr: string[] = [];
        return { env, cwd: dir, stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
      };
      const env = { CLINICS_FILE: 'clinics.yaml', MONGODB_URI: uriWithDb(server!.uri, handle.dbName) };
      expect(await runCli(['import', 'first.yaml'], io(env))).to.equal(0);
      await text(t, id.phone, 'CONFIRM');
      const before = await handle.store.getAppointment(id.appointmentId);

      const dry = io(env);
      expect(await runCli(['import', 'moved.yaml', '--dry-run'], dry)).to.equal(0, dry.stderr.join('\n'));
      expect(dry.stdout).to.deep.equal([
        'moved.yaml: 1 patients, 1 appointments, all valid',
        'patients: 0 inserted, 0 updated, 1 unchanged (dry run: would be)',
        'appointments: 0 inserted, 1 updated, 0 unchanged (dry run: would be)',
        'patient responses retired: 1 (dry run: would be) (startsAt moved or cancelled; kept in responseHistory)',
        'dry run: nothing written',
      ]);
      expect(dry.stderr).to.deep.equal([
        `moved.yaml:13:13: warning: appointment "${id.appointmentId}": status: "reschedule-requested" is a patient's request, which only SMS records now (patientResponse); read as "scheduled"`,
      ]);
      expect(await handle.store.getAppointment(id.appointmentId)).to.deep.equal(before);

      const offline = io({ CLINICS_FILE: 'clinics.yaml' });
      expect(await runCli(['import', 'moved.yaml', '--dry-run'], offline)).to.equal(0);
      expect(offline.stdout).to.deep.equal(['moved.yaml: 1 patients, 1 appointments, all valid', 'dry run: nothing written']);
      expect(offline.stderr.at(-1)).to.equal('note: MONGODB_URI is not set, so the patients appointments name and the patient responses the import would retire were not checked');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await dropTestDb(server!, handle.dbName);
      await handle.store.close();
    }
  });
});
