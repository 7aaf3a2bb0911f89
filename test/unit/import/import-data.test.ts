import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/index.js';
import type { CliIO } from '../../../src/cli/io.js';
import { indexClinics } from '../../../src/config/clinics-file.js';
import type { Clinic } from '../../../src/domain.js';
import { importData, importDataFile, type ImportProgress } from '../../../src/import/import-data.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';

const DOWNTOWN: Clinic = {
  id: 'downtown',
  name: 'Downtown',
  phoneNumbers: ['+13125550100'],
  timezone: 'America/Chicago',
  languages: ['en'],
  defaultRegion: 'US',
  rateLimitPerMinute: 10,
  autoReply: true,
};
const CLINICS = indexClinics([DOWNTOWN]).byId;

const YAML = `patients:
  - { id: p-1, clinicId: downtown, firstName: Ana, lastName: Diaz, phone: "(312) 555-0134" }
  - { id: p-2, clinicId: downtown, firstName: Ben, lastName: Okafor, phone: "312.555.0142" }
appointments:
  - { id: a-1, clinicId: downtown, patientId: p-1, startsAt: "2026-12-01T15:00:00Z" }
`;

function captureIO(env: Record<string, string>, cwd: string): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env, cwd, stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('import: all or nothing, upsert by id', function () {
  it('when the file is valid, then rows are inserted, and a re-import reports them unchanged or updated', async function () {
    const store = new MemoryStore();
    expect(await importData(YAML, 'data.yaml', { store, clinics: CLINICS })).to.deep.equal({
      patients: { inserted: 2, updated: 0, unchanged: 0 },
      appointments: { inserted: 1, updated: 0, unchanged: 0, retiredResponses: 0 },
    });
    const changed = YAML.replace('lastName: Okafor', 'lastName: Okafor-Smith').replace('15:00:00Z', '16:00:00Z');
    expect(await importData(changed, 'data.yaml', { store, clinics: CLINICS })).to.deep.equal({
      patients: { inserted: 0, updated: 1, unchanged: 1 },
      appointments: { inserted: 0, updated: 1, unchanged: 0, retiredResponses: 0 },
    });
    expect(await store.findPatientsByPhone('downtown', '+13125550142')).to.deep.equal([
      { id: 'p-2', clinicId: 'downtown', firstName: 'Ben', lastName: 'Okafor-Smith', phone: '+13125550142' },
    ]);
    expect((await store.getAppointment('a-1'))?.startsAt).to.deep.equal(new Date('2026-12-01T16:00:00Z'));
  });

  it('when one row is bad, then the error lists it with its line and nothing is written', async function () {
    const store = new MemoryStore();
    const bad = `${YAML}  - { id: a-2, clinicId: downtown, patientId: p-2, startsAt: "tomorrow" }\n`;
    const err = await importData(bad, 'data.yaml', { store, clinics: CLINICS }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.have.property('code', 'IMPORT_INVALID');
    expect((err as { findings: { line: number; file: string }[] }).findings).to.deep.equal([
      {
        file: 'data.yaml',
        line: 6,
        col: 62,
        message: 'appointment "a-2": startsAt: expected a date-time with a zone, e.g. 2026-12-01T15:00:00Z or 2026-12-01T09:00:00-06:00',
        severity: 'error',
      },
    ]);
    expect(await store.findPatientsByPhone('downtown', '+13125550134')).to.deep.equal([]);
  });

  it('when the file is written in chunks, then progress is reported after each chunk', async function () {
    const store = new MemoryStore();
    const seen: ImportProgress[] = [];
    await importData(YAML, 'data.yaml', { store, clinics: CLINICS, chunkSize: 1, onProgress: (p) => seen.push(p) });
    expect(seen).to.deep.equal([
      { kind: 'patients', done: 1, total: 2 },
      { kind: 'patients', done: 2, total: 2 },
      { kind: 'appointments', done: 1, total: 1 },
    ]);
  });

  it('when the file is missing or of an unknown type, then the error names it', async function () {
    const store = new MemoryStore();
    await expect(importDataFile('/nonexistent/data.yaml', { store, clinics: CLINICS })).to.be.rejected.and.eventually.have.property('code', 'IMPORT_INVALID');
    const err = await importData('x', 'data.txt', { store, clinics: CLINICS }).catch((e: { findings: { message: string }[] }) => e);
    expect((err as { findings: { message: string }[] }).findings[0]!.message).to.match(/unknown file type ".txt"/);
  });
});

describe('clinic-sms import (command line)', function () {
  let dir: string;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'clinic-sms-import-'));
    await writeFile(join(dir, 'clinics.yaml'), 'clinics:\n  - id: downtown\n    name: Downtown\n    phoneNumbers: ["+13125550100"]\n    timezone: America/Chicago\n');
    await writeFile(join(dir, 'data.yaml'), YAML);
    await writeFile(join(dir, 'bad.csv'), 'id,clinicId,firstName,lastName,phone\np-1,downtown,Ana,Diaz,(312) 555-0134\np-2,uptown,Ben,Okafor,nope\n');
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('when MONGODB_URI is not set, then it refuses with a clear message and exit status 2', async function () {
    const io = captureIO({ CLINICS_FILE: 'clinics.yaml' }, dir);
    expect(await runCli(['import', 'data.yaml'], io)).to.equal(2);
    expect(io.stderr.join('\n')).to.match(/MONGODB_URI is not set/).and.match(/embedded store keeps nothing/);
  });

  it('when --dry-run is given, then the file is checked without a database', async function () {
    const io = captureIO({ CLINICS_FILE: 'clinics.yaml' }, dir);
    expect(await runCli(['import', 'data.yaml', '--dry-run'], io)).to.equal(0);
    expect(io.stdout).to.deep.equal(['data.yaml: 2 patients, 1 appointments, all valid', 'dry run: nothing written']);
  });

  it('when rows are bad, then each is printed as file:line:col and the exit status is 1', async function () {
    const io = captureIO({ CLINICS_FILE: 'clinics.yaml', MONGODB_URI: 'mongodb://127.0.0.1:1/never-used' }, dir);
    expect(await runCli(['import', 'bad.csv'], io)).to.equal(1);
    expect(io.stderr).to.deep.equal([
      'bad.csv:3:5: patient "p-2": clinicId: no clinic "uptown" in the clinics file\nbad.csv:3:23: patient "p-2": phone: "nope" is not a possible phone number (read in region US)',
    ]);
  });

  it('when no file is given, then the usage is printed', async function () {
    const io = captureIO({}, dir);
    expect(await runCli(['import'], io)).to.equal(2);
    expect(io.stderr[0]).to.match(/^usage: clinic-sms import/);
  });
});
