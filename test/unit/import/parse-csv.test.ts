import { expect } from 'chai';
import { parseCsvRows, splitCsv } from '../../../src/import/parse-csv.js';

describe('import: CSV parsing', function () {
  it('when fields are quoted, with commas, escaped quotes and line breaks, then values and positions are right', function () {
    const { records, error } = splitCsv('a,b,c\r\n"x, y","say ""hi""","two\nlines"\n3,,5\n');
    expect(error).to.equal(undefined);
    expect(records.map((r) => r.cells.map((c) => c.value))).to.deep.equal([
      ['a', 'b', 'c'],
      ['x, y', 'say "hi"', 'two\nlines'],
      ['3', '', '5'],
    ]);
    expect(records[1]!.at).to.deep.equal({ line: 2, col: 1 });
    expect(records[1]!.cells[1]!.at).to.deep.equal({ line: 2, col: 8 });
    // The record after a quoted line break starts on line 4.
    expect(records[2]!.at).to.deep.equal({ line: 4, col: 1 });
  });

  it('when a quote is left open, then the error names where the field started', function () {
    expect(splitCsv('a,b\n1,"open\n2,3\n').error).to.deep.equal({ at: { line: 2, col: 3 }, message: 'unterminated quoted field' });
  });

  it('when the file has a BOM and blank lines, then they are ignored', function () {
    const { rows, findings } = parseCsvRows('\uFEFFid,clinicId,firstName,lastName,phone\n\np-1,downtown,Ana,Diaz,(312) 555-0134\n', 'p.csv');
    expect(findings).to.deep.equal([]);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.deep.include({ kind: 'patient', at: { line: 3, col: 1 } });
    expect(rows[0]!.fields).to.deep.equal({ id: 'p-1', clinicId: 'downtown', firstName: 'Ana', lastName: 'Diaz', phone: '(312) 555-0134' });
    expect(rows[0]!.positions.phone).to.deep.equal({ line: 3, col: 23 });
  });

  it('when the header names patientId and startsAt, then rows are appointments and empty cells are absent', function () {
    const { rows } = parseCsvRows('id,clinicId,patientId,startsAt,provider\na-1,downtown,p-1,2026-12-01T15:00:00Z,\n', 'a.csv');
    expect(rows[0]!.kind).to.equal('appointment');
    expect(rows[0]!.fields).to.not.have.property('provider');
  });

  it('when a type column is present, then each row says what it is', function () {
    const text = 'type,id,clinicId,firstName,lastName,phone,patientId,startsAt\npatient,p-1,downtown,Ana,Diaz,3125550134,,\nappointment,a-1,downtown,,,,p-1,2026-12-01T15:00:00Z\nvisit,x,downtown,,,,,\n';
    const { rows, findings } = parseCsvRows(text, 'mixed.csv');
    expect(rows.map((r) => r.kind)).to.deep.equal(['patient', 'appointment']);
    expect(rows[1]!.fields).to.deep.equal({ id: 'a-1', clinicId: 'downtown', patientId: 'p-1', startsAt: '2026-12-01T15:00:00Z' });
    expect(findings).to.have.length(1);
    expect(findings[0]).to.deep.include({ file: 'mixed.csv', line: 4, col: 1 });
    expect(findings[0]!.message).to.match(/type: expected "patient" or "appointment", found "visit"/);
  });

  it('when rows have the wrong number of columns or the header repeats a column, then each is reported with its line', function () {
    expect(parseCsvRows('id,clinicId\np-1\np-2,a,b\n', 'p.csv').findings.map((f) => [f.line, f.message])).to.deep.equal([
      [2, 'expected 2 columns, found 1'],
      [3, 'expected 2 columns, found 3'],
    ]);
    expect(parseCsvRows('id,id\n', 'p.csv').findings[0]).to.deep.include({ line: 1, col: 4, message: 'column "id" appears twice' });
    expect(parseCsvRows('', 'p.csv').findings[0]!.message).to.match(/empty file/);
  });
});
