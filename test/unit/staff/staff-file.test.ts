import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAppError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { StaffDirectory, loadStaffFile, parseStaffFile } from '../../../src/staff/auth/staff-file.js';
import { reloadableFile } from '../../../src/config/file-watch.js';
import { createLogCapture } from '../../support/log-capture.js';

function findingsOf(text: string): string[] {
  try {
    parseStaffFile(text, 'staff.yaml');
  } catch (err) {
    if (isAppError(err)) {
      return err.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`);
    }
    throw err;
  }
  return [];
}

describe('staff file (STAFF_FILE)', () => {
  it('when a verified email is looked up, then an exact entry wins in any letter case, else the domain entry, else no clinic', () => {
    const dir = new StaffDirectory(
      parseStaffFile('staff:\n  - email: Maria@Downtown.example\n    name: Maria\n    clinics: [downtown]\n  - emailDomain: downtown.example\n    clinics: [downtown, lakeside]\n', 'staff.yaml'),
    );
    expect(dir.clinicsOf('maria@downtown.example')).to.deep.equal(['downtown']);
    expect(dir.clinicsOf('MARIA@DOWNTOWN.EXAMPLE')).to.deep.equal(['downtown']);
    expect(dir.clinicsOf('sam@downtown.example')).to.deep.equal(['downtown', 'lakeside']);
    expect(dir.clinicsOf('sam@evil-downtown.example')).to.deep.equal([]);
    expect(dir.clinicsOf('sam@sub.downtown.example')).to.deep.equal([]);
    expect(dir.nameOf('maria@downtown.example')).to.equal('Maria');
    expect(dir.staffOf('downtown')).to.deep.equal([{ email: 'maria@downtown.example', name: 'Maria' }]);
    expect(dir.staffOf('lakeside')).to.deep.equal([]);
  });

  it('when entries are wrong, then every problem is reported at once with file:line:col', () => {
    const text = [
      'staff:',
      '  - email: not-an-email',
      '    clinics: [downtown]',
      '  - emailDomain: "@lakeside.example"',
      '    clinics: []',
      '  - email: a@b.example',
      '    emailDomain: b.example',
      '    clinics: [downtown]',
      '  - email: c@d.example',
      '    clinic: [downtown]',
      '',
    ].join('\n');
    expect(findingsOf(text)).to.deep.equal([
      'staff.yaml:2:12: staff[0].email: expected an email address like maria@clinic.example',
      'staff.yaml:4:18: staff[1].emailDomain: expected a domain like clinic.example (no @)',
      'staff.yaml:5:14: staff[1].clinics: a list of clinic ids, e.g. [downtown]',
      'staff.yaml:6:5: staff[2]: give either email or emailDomain (exactly one)',
      'staff.yaml:9:5: staff[3].clinics: a list of clinic ids, e.g. [downtown]',
      'staff.yaml:10:5: staff[3]: unknown field "clinic"',
    ]);
  });

  it('when the YAML itself is broken or a person is listed twice, then that is named with its position', () => {
    expect(findingsOf('staff:\n  - email: a@b.example\n    clinics: [downtown\n')[0]).to.match(/^staff\.yaml:\d+:\d+: /);
    expect(findingsOf('staff:\n  - email: a@b.example\n    clinics: [x]\n  - email: A@B.example\n    clinics: [y]\n')).to.deep.equal(['staff.yaml:4:12: staff[1]: "A@B.example" is listed twice']);
  });

  it('when the file is missing, then nobody is listed (and that is said), not an error', async () => {
    const { directory, missing } = await loadStaffFile(join(tmpdir(), 'no-such-staff-file.yaml'));
    expect(missing).to.equal(true);
    expect(directory.entries).to.deep.equal([]);
  });

  it('when the file is edited, then a reload takes the new list; a broken edit keeps the last good list live and logs file:line:col', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'staff-file-'));
    const file = join(dir, 'staff.yaml');
    try {
      await writeFile(file, 'staff:\n  - email: a@b.example\n    clinics: [downtown]\n');
      const logs = createLogCapture();
      const handle = reloadableFile({ name: 'staff file', file, initial: (await loadStaffFile(file)).directory, load: async () => (await loadStaffFile(file)).directory, describe: () => ({}), logger: createLogger('debug', logs) });
      await writeFile(file, 'staff:\n  - email: a@b.example\n    clinics: [lakeside]\n');
      expect(await handle.reload('test')).to.equal(true);
      expect(handle.current().clinicsOf('a@b.example')).to.deep.equal(['lakeside']);
      await writeFile(file, 'staff:\n  - email: a@b.example\n    clinics: lakeside\n');
      expect(await handle.reload('test')).to.equal(false);
      expect(handle.current().clinicsOf('a@b.example')).to.deep.equal(['lakeside']);
      expect(logs.text()).to.include(`${file}:3:14: staff[0].clinics`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when the shipped config/staff.yaml is read, then it is valid and lists demo staff for the demo clinics', async () => {
    const { directory, missing } = await loadStaffFile('config/staff.yaml');
    expect(missing).to.equal(false);
    expect(directory.staffOf('downtown').length).to.be.at.least(1);
    expect(directory.staffOf('lakeside').length).to.be.at.least(1);
  });
});
