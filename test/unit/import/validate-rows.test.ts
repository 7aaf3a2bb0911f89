import { expect } from 'chai';
import type { Clinic } from '../../../src/domain.js';
import type { RawRow } from '../../../src/import/raw-row.js';
import { validateRows } from '../../../src/import/validate-rows.js';

const clinic = (id: string, defaultRegion = 'US'): Clinic => ({
  id,
  name: id,
  phoneNumbers: ['+13125550100'],
  timezone: 'America/Chicago',
  languages: ['en'],
  defaultRegion,
  rateLimitPerMinute: 10,
  autoReply: true,
});
const CLINICS = new Map([
  ['downtown', clinic('downtown')],
  ['london', clinic('london', 'GB')],
]);

let nextLine = 1;
function row(kind: RawRow['kind'], fields: Record<string, unknown>): RawRow {
  const line = (nextLine += 10);
  const positions = Object.fromEntries(Object.keys(fields).map((k, i) => [k, { line: line + i + 1, col: 5 }]));
  return { kind, at: { line, col: 3 }, fields, positions };
}
const patient = (fields: Record<string, unknown> = {}): RawRow =>
  row('patient', { id: 'p-1', clinicId: 'downtown', firstName: 'Ana', lastName: 'Diaz', phone: '(312) 555-0134', ...fields });
const appointment = (fields: Record<string, unknown> = {}): RawRow =>
  row('appointment', { id: 'a-1', clinicId: 'downtown', patientId: 'p-1', startsAt: '2026-12-01T15:00:00Z', ...fields });

describe('import: row validation', function () {
  it('when rows are valid, then phones become E.164 in the clinic region and appointments default to scheduled', function () {
    const result = validateRows(
      [
        patient({ language: 'es' }),
        patient({ id: 'p-2', clinicId: 'london', phone: '020 7946 0958' }),
        patient({ id: 1003, phone: '+1 312 555 0177' }),
        appointment({ provider: 'Dr. Lee' }),
        appointment({ id: 'a-2', startsAt: '2026-12-01T09:00:00-06:00', status: 'confirmed' }),
      ],
      'data.yaml',
      CLINICS,
    );
    expect(result.findings).to.deep.equal([]);
    expect(result.patients).to.deep.equal([
      { id: 'p-1', clinicId: 'downtown', firstName: 'Ana', lastName: 'Diaz', phone: '+13125550134', language: 'es' },
      { id: 'p-2', clinicId: 'london', firstName: 'Ana', lastName: 'Diaz', phone: '+442079460958' },
      { id: '1003', clinicId: 'downtown', firstName: 'Ana', lastName: 'Diaz', phone: '+13125550177' },
    ]);
    expect(result.appointments).to.deep.equal([
      { id: 'a-1', clinicId: 'downtown', patientId: 'p-1', startsAt: new Date('2026-12-01T15:00:00Z'), status: 'scheduled', provider: 'Dr. Lee' },
      { id: 'a-2', clinicId: 'downtown', patientId: 'p-1', startsAt: new Date('2026-12-01T15:00:00Z'), status: 'confirmed' },
    ]);
  });

  it('when rows are bad, then every problem is reported with file and line, and bad rows are left out', function () {
    const rows = [
      patient({ phone: 'not a phone' }),
      patient({ id: 'p-2', clinicId: 'uptown', firstName: '' }),
      patient({ id: 'p-3', phone: 3125550134, nickname: 'Annie' }),
      patient({ id: 'p-1' }),
      appointment({ startsAt: '2026-12-01 15:00' }),
      appointment({ id: 'a-2', startsAt: '2026-02-31T10:00:00Z', status: 'done' }),
      appointment({ id: 'a-3', patientId: undefined }),
    ];
    const { findings, patients, appointments } = validateRows(rows, 'data.yaml', CLINICS);
    const messages = findings.map((f) => `${f.file}:${f.line}: ${f.message}`);
    expect(messages).to.deep.equal([
      `data.yaml:${rows[0]!.positions.phone!.line}: patient "p-1": phone: "not a phone" is not a possible phone number (read in region US)`,
      `data.yaml:${rows[1]!.at.line}: patient "p-2": firstName is required`,
      `data.yaml:${rows[1]!.positions.clinicId!.line}: patient "p-2": clinicId: no clinic "uptown" in the clinics file`,
      `data.yaml:${rows[2]!.positions.phone!.line}: patient "p-3": phone: write it as quoted text, e.g. "(555) 123-4567"`,
      `data.yaml:${rows[2]!.positions.nickname!.line}: patient "p-3": unknown field "nickname" (expected id, clinicId, firstName, lastName, phone, language)`,
      `data.yaml:${rows[3]!.positions.id!.line}: patient "p-1": id "p-1" already used on line ${rows[0]!.at.line}`,
      `data.yaml:${rows[4]!.positions.startsAt!.line}: appointment "a-1": startsAt: expected a date-time with a zone, e.g. 2026-12-01T15:00:00Z or 2026-12-01T09:00:00-06:00`,
      `data.yaml:${rows[5]!.positions.startsAt!.line}: appointment "a-2": startsAt: expected a date-time with a zone, e.g. 2026-12-01T15:00:00Z or 2026-12-01T09:00:00-06:00`,
      `data.yaml:${rows[5]!.positions.status!.line}: appointment "a-2": status: "done" is not one of scheduled, confirmed, cancelled`,
      `data.yaml:${rows[6]!.at.line}: appointment "a-3": patientId is required`,
    ]);
    expect(patients).to.deep.equal([]);
    expect(appointments).to.deep.equal([]);
  });

  it('when an appointment names a patient of another clinic in the same file, then it is reported even if the patient comes later', function () {
    const appt = appointment({ clinicId: 'london', patientId: 'p-9' });
    const { findings } = validateRows([appt, patient({ id: 'p-9' })], 'data.csv', CLINICS);
    expect(findings).to.have.length(1);
    expect(findings[0]).to.deep.include({ file: 'data.csv', line: appt.positions.patientId!.line });
    expect(findings[0]!.message).to.equal('appointment "a-1": patient "p-9" belongs to clinic "downtown", not "london"');
  });

  it('when an import (no relativeTo) has startsAt "+1d 15:00", then it is refused at that field: practice files keep absolute times', function () {
    const appt = appointment({ startsAt: '+1d 15:00' });
    const { findings, appointments } = validateRows([patient(), appt], 'data.yaml', CLINICS);
    expect(appointments).to.deep.equal([]);
    expect(findings).to.have.length(1);
    expect(findings[0]).to.deep.include({ line: appt.positions.startsAt!.line });
    expect(findings[0]!.message).to.include('is the demo seed file\'s notation: import it with --relative-dates');
  });

  it('when a seed (relativeTo) has startsAt "+Nd HH:MM", then it is that wall-clock time N days later in the clinic zone, across a DST change', function () {
    const relativeTo = new Date('2026-03-07T23:30:00Z'); // Saturday 17:30 in Chicago (CST, -6)
    const { findings, appointments } = validateRows(
      [patient(), appointment({ startsAt: '+0d 18:00' }), appointment({ id: 'a-2', startsAt: '+2d 09:00' }), appointment({ id: 'a-3', startsAt: '+1d 24:00' })],
      'seed.yaml',
      CLINICS,
      { relativeTo },
    );
    expect(appointments.map((a) => a.startsAt.toISOString())).to.deep.equal(['2026-03-08T00:00:00.000Z', '2026-03-09T14:00:00.000Z']); // Monday is CDT, -5
    expect(findings.map((f) => f.message)).to.deep.equal(['appointment "a-3": startsAt: "+Nd HH:MM" needs a clock time 00:00-23:59']);
  });
});
