import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/index.js';
import type { CliIO } from '../../src/cli/io.js';
import { parseClinics } from '../../src/config/clinics-file.js';
import { importDataFile } from '../../src/import/import-data.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { createMongoStore } from '../../src/store/mongo/create-mongo-store.js';
import { dropTestDb, freshDbName, getTestMongo, uriWithDb } from '../support/mongo.js';

const N = 10_000;
const CLINICS_YAML = `clinics:
  - id: downtown
    name: Downtown
    phoneNumbers: ["+13125550100"]
    timezone: America/Chicago
  - id: lakeside
    name: Lakeside
    phoneNumbers: ["+13125550200"]
    timezone: America/New_York
`;
const clinics = parseClinics(CLINICS_YAML, 'clinics.yaml').byId;

/** The E.164 phone of generated patient i, and the way the file writes it. */
const phoneOf = (i: number): string => `+1312${String(2_000_000 + i)}`;
function written(i: number): string {
  const d = phoneOf(i).slice(2);
  const forms = [`(${d.slice(0, 3)}) ${d.slice(3, 6)}-${d.slice(6)}`, `${d.slice(0, 3)}.${d.slice(3, 6)}.${d.slice(6)}`, `+1 ${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6)}`];
  return forms[i % forms.length]!;
}

/** A YAML data file of N patients and one appointment each; `renamed` patients get a new last name. */
function generateYaml(renamed = 0, badAt?: number): string {
  const lines = ['patients:'];
  for (let i = 0; i < N; i += 1) {
    const clinicId = i % 2 === 0 ? 'downtown' : 'lakeside';
    const phone = i === badAt ? 'call me maybe' : written(i);
    lines.push(`  - { id: p-${i}, clinicId: ${clinicId}, firstName: First${i}, lastName: ${i < renamed ? 'Renamed' : 'Last'}${i}, phone: "${phone}" }`);
  }
  lines.push('appointments:');
  for (let i = 0; i < N; i += 1) {
    const clinicId = i % 2 === 0 ? 'downtown' : 'lakeside';
    const startsAt = new Date(Date.UTC(2026, 11, 1) + i * 15 * 60_000).toISOString();
    lines.push(`  - { id: a-${i}, clinicId: ${clinicId}, patientId: p-${i}, startsAt: "${startsAt}", provider: Dr. Lee }`);
  }
  return `${lines.join('\n')}\n`;
}

function generateCsv(): string {
  const rows = ['id,clinicId,firstName,lastName,phone'];
  for (let i = 0; i < N; i += 1) {
    rows.push(`p-${i},${i % 2 === 0 ? 'downtown' : 'lakeside'},First${i},"Last, ${i}",${written(i)}`);
  }
  return `${rows.join('\r\n')}\r\n`;
}

function captureIO(env: Record<string, string>, cwd: string): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, cwd, stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

describe(`import of ${N.toLocaleString('en-US')} patients`, function () {
  this.timeout(120_000);
  let dir: string;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'clinic-sms-import-int-'));
    await writeFile(join(dir, 'clinics.yaml'), CLINICS_YAML);
    await writeFile(join(dir, 'patients.yaml'), generateYaml());
    await writeFile(join(dir, 'patients-renamed.yaml'), generateYaml(100));
    await writeFile(join(dir, 'patients-bad.yaml'), generateYaml(0, 7_777));
    await writeFile(join(dir, 'patients.csv'), generateCsv());
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe('into the memory store', function () {
    it('when a YAML file of 10,000 patients and appointments is imported twice, then all are inserted, then all unchanged', async function () {
      const store = new MemoryStore();
      const started = Date.now();
      const first = await importDataFile(join(dir, 'patients.yaml'), { store, clinics });
      const elapsed = Date.now() - started;
      expect(first).to.deep.equal({ patients: { inserted: N, updated: 0, unchanged: 0 }, appointments: { inserted: N, updated: 0, unchanged: 0, retiredResponses: 0 } });
      expect(await store.findPatientsByPhone('lakeside', phoneOf(4_321))).to.deep.equal([
        { id: 'p-4321', clinicId: 'lakeside', firstName: 'First4321', lastName: 'Last4321', phone: '+13122004321' },
      ]);
      const again = await importDataFile(join(dir, 'patients-renamed.yaml'), { store, clinics });
      expect(again).to.deep.equal({ patients: { inserted: 0, updated: 100, unchanged: N - 100 }, appointments: { inserted: 0, updated: 0, unchanged: N, retiredResponses: 0 } });
      console.log(`      (memory store: ${N} patients + ${N} appointments from YAML in ${seconds(elapsed)})`);
    });

    it('when a CSV file of 10,000 patients is imported, then all are inserted with quoted commas kept', async function () {
      const store = new MemoryStore();
      const started = Date.now();
      const summary = await importDataFile(join(dir, 'patients.csv'), { store, clinics });
      const elapsed = Date.now() - started;
      expect(summary.patients).to.deep.equal({ inserted: N, updated: 0, unchanged: 0 });
      expect((await store.findPatientsByPhone('downtown', phoneOf(10)))[0]?.lastName).to.equal('Last, 10');
      console.log(`      (memory store: ${N} patients from CSV in ${seconds(elapsed)})`);
    });
  });

  describe('into MongoDB, through the command line', function () {
    let server: Awaited<ReturnType<typeof getTestMongo>>;
    let dbName: string;

    before(async function () {
      server = await getTestMongo();
      if (!server) {
        this.skip();
      }
      dbName = freshDbName('import');
    });

    after(async function () {
      if (server) {
        await dropTestDb(server, dbName);
      }
    });

    it('when a file has one bad row among 10,000, then it is reported with its line and nothing is written', async function () {
      const io = captureIO({ CLINICS_FILE: 'clinics.yaml', MONGODB_URI: uriWithDb(server!.uri, dbName) }, dir);
      expect(await runCli(['import', 'patients-bad.yaml'], io)).to.equal(1);
      // Line 1 is "patients:", so patient i is on line i + 2.
      expect(io.stderr).to.deep.equal([`patients-bad.yaml:${7_777 + 2}:88: patient "p-7777": phone: "call me maybe" is not a possible phone number (read in region US)`]);
      const store = createMongoStore({ uri: server!.uri, dbName });
      try {
        expect(await store.client.db(dbName).collection('patients').countDocuments()).to.equal(0);
      } finally {
        await store.close();
      }
    });

    it('when 10,000 patients and appointments are imported and re-imported, then the summaries and stored rows are right', async function () {
      const env = { CLINICS_FILE: 'clinics.yaml', MONGODB_URI: uriWithDb(server!.uri, dbName) };
      const io = captureIO(env, dir);
      const started = Date.now();
      expect(await runCli(['import', 'patients.yaml'], io)).to.equal(0, io.stderr.join('\n'));
      const elapsed = Date.now() - started;
      expect(io.stdout.slice(0, 3)).to.deep.equal([
        `patients.yaml: ${N} patients, ${N} appointments, all valid`,
        `patients: ${N} inserted, 0 updated, 0 unchanged`,
        `appointments: ${N} inserted, 0 updated, 0 unchanged`,
      ]);
      expect(io.stderr).to.include(`  patients: 5000/${N}`).and.include(`  appointments: ${N}/${N}`);

      const io2 = captureIO(env, dir);
      const started2 = Date.now();
      expect(await runCli(['import', 'patients-renamed.yaml'], io2)).to.equal(0, io2.stderr.join('\n'));
      const elapsed2 = Date.now() - started2;
      expect(io2.stdout.slice(1, 3)).to.deep.equal([
        `patients: 0 inserted, 100 updated, ${N - 100} unchanged`,
        `appointments: 0 inserted, 0 updated, ${N} unchanged`,
      ]);

      const store = createMongoStore({ uri: server!.uri, dbName });
      try {
        expect(await store.findPatientsByPhone('downtown', phoneOf(42))).to.deep.equal([
          { id: 'p-42', clinicId: 'downtown', firstName: 'First42', lastName: 'Renamed42', phone: '+13122000042' },
        ]);
        expect(await store.getAppointment('a-9999')).to.deep.equal({
          id: 'a-9999',
          clinicId: 'lakeside',
          patientId: 'p-9999',
          startsAt: new Date(Date.UTC(2026, 11, 1) + 9_999 * 15 * 60_000),
          provider: 'Dr. Lee',
          status: 'scheduled',
        });
        expect(await store.client.db(dbName).collection('patients').countDocuments()).to.equal(N);
      } finally {
        await store.close();
      }
      console.log(`      (${server!.source}: first import ${seconds(elapsed)}, re-import with 100 changes ${seconds(elapsed2)})`);
    });
  });
});
