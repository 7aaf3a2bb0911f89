import { expect } from 'chai';
import { parseStructuredRows } from '../../../src/import/parse-structured.js';

describe('import: YAML and JSON parsing', function () {
  it('when a YAML file has patients and appointments, then each row and field carries its line', function () {
    const text = [
      'patients:',
      '  - id: p-1',
      '    clinicId: downtown',
      '    phone: "(312) 555-0134"',
      'appointments:',
      '  - id: a-1',
      '    startsAt: 2026-12-01T15:00:00Z',
      '',
    ].join('\n');
    const { rows, findings } = parseStructuredRows(text, 'data.yaml');
    expect(findings).to.deep.equal([]);
    expect(rows.map((r) => [r.kind, r.at.line])).to.deep.equal([
      ['patient', 2],
      ['appointment', 6],
    ]);
    expect(rows[0]!.positions.phone).to.deep.equal({ line: 4, col: 12 });
    // The core schema leaves timestamps as text: the validator decides what they mean.
    expect(rows[1]!.fields.startsAt).to.equal('2026-12-01T15:00:00Z');
  });

  it('when a JSON file is read, then positions are lines of the JSON text', function () {
    const text = '{\n  "patients": [\n    {"id": "p-1", "phone": "312 555 0134"},\n    {"id": "p-2"}\n  ]\n}\n';
    const { rows, findings } = parseStructuredRows(text, 'data.json');
    expect(findings).to.deep.equal([]);
    expect(rows.map((r) => r.at.line)).to.deep.equal([3, 4]);
    expect(rows[0]!.fields).to.deep.equal({ id: 'p-1', phone: '312 555 0134' });
  });

  it('when sections or entries have the wrong shape, then every problem is reported with its line', function () {
    const text = 'patients:\n  - just text\n  - id: p-2\nvisits: []\nappointments: {}\n';
    const { rows, findings } = parseStructuredRows(text, 'data.yaml');
    expect(rows).to.have.length(1);
    expect(findings.map((f) => [f.line, f.message])).to.deep.equal([
      [2, 'patients: each entry must be a map of fields'],
      [4, 'unknown section "visits" (expected "patients" or "appointments")'],
      [5, 'appointments: expected a list'],
    ]);
  });

  it('when the YAML is malformed or keys repeat, then the syntax error has a position', function () {
    const { findings } = parseStructuredRows('patients:\n  - id: p-1\n    id: p-2\n', 'data.yaml');
    expect(findings).to.have.length(1);
    expect(findings[0]).to.deep.include({ file: 'data.yaml', line: 3 });
    expect(parseStructuredRows('- a\n- b\n', 'data.yaml').findings[0]!.message).to.match(/expected a map/);
  });
});
