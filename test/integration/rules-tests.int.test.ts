// Reads the live rules/ on purpose: the one suite that runs the admins' rules/tests on the shipped rules; a failing case names its file:line. (Allowed in test/support/fixture-rules.ts.)
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadClinicsFile } from '../../src/config/clinics-file.js';
import { loadRules } from '../../src/rules/load-rules.js';
import { runCase } from '../../src/admin/test-runner/run-tests.js';
import { parseTestFile } from '../../src/admin/test-runner/test-file.js';
import type { Snapshot } from '../../src/service/live-config.js';

// The admins' YAML test cases for the default rules (rules/tests/), one mocha test each,
// through the same runner as `clinic-sms rules test`.
const DIR = 'rules/tests';
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join(DIR, f));

describe('rules/tests (rules test cases for the default rules)', () => {
  let snapshot: Snapshot;

  before(async () => {
    const clinics = await loadClinicsFile('config/clinics.yaml');
    snapshot = { clinics, rules: await loadRules({ rulesDir: 'rules', clinics: clinics.clinics }), tokens: new Map(), tokensByAccount: new Map(), allTokens: [], loadedAt: new Date() };
  });

  it('when the folder is read, then it holds test files', () => {
    expect(files.length).to.be.greaterThan(0);
  });

  for (const file of files) {
    const parsed = parseTestFile(readFileSync(file, 'utf8'), file);
    describe(file, () => {
      it('when the file is parsed, then it has no problems', () => {
        expect(parsed.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.message}`)).to.deep.equal([]);
      });
      for (const testCase of parsed.cases) {
        it(`when ${testCase.name}, then it behaves as the case expects`, async () => {
          const result = await runCase(testCase, snapshot);
          expect(result.error, `${testCase.file}:${testCase.line}`).to.equal(undefined);
          expect(result.mismatches, `${testCase.file}:${testCase.line}`).to.deep.equal([]);
        });
      }
    });
  }
});
