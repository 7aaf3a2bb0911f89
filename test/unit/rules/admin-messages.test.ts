import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTIONS } from '../../../src/actions/index.js';
import { runCli } from '../../../src/cli/index.js';
import type { CliIO } from '../../../src/cli/io.js';
import { parseClinics } from '../../../src/config/clinics-file.js';
import { isAppError, type Finding } from '../../../src/errors.js';
import { compileClinicRules, parseRulesFile } from '../../../src/rules/load-rules.js';
import { RULES_DIR, makeClinic } from '../../support/rules-builders.js';

const DEFAULTS = readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8');

function clinicFindings(yaml: string): string[] {
  const defaults = parseRulesFile(DEFAULTS, 'rules/default.yaml', 'default');
  return compileClinicRules(defaults, parseRulesFile(yaml, 'rules/clinics/downtown.yaml', 'clinic'), makeClinic()).findings.map((f) => `${f.line}:${f.col}: ${f.message}`);
}

function captureIO(): CliIO & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { env: {}, cwd: process.cwd(), stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('what rules check tells an admin', () => {
  it('when a fact or an action is mistyped, then the message suggests the known name', () => {
    const found = clinicFindings(`rules:
  - name: a
    conditions:
      all:
        - { fact: time.dat, operator: equal, value: "2026-12-24" }
        - { fact: patient.known, operator: equal, value: true }
        - { fact: message.text, operator: containsPhrse, value: chest pain }
    event: { type: route-to-stuff }
`);
    expect(found).to.deep.equal([
      '5:19: rules[0].conditions.all[0]: unknown fact "time.dat" (did you mean "time.date"?) (see rules/README.md for the list)',
      '6:19: rules[0].conditions.all[1]: unknown fact "patient.known" (did you mean "patients.known"?) (see rules/README.md for the list)',
      `7:43: rules[0].conditions.all[2]: unknown operator "containsPhrse" (did you mean "containsPhrase"?) (operators: equal, notEqual, in, notIn, contains, doesNotContain, lessThan, lessThanInclusive, greaterThan, greaterThanInclusive, containsPhrase, containsPhraseFrom; decorators: someFact, someValue, everyFact, everyValue, swap, not)`,
      `8:20: rules[0].event.type: unknown action "route-to-stuff" (did you mean "route-to-staff"?) (actions: ${[...ACTIONS.keys()].join(', ')})`,
    ]);
  });

  it('when time.date is compared with a date in another form, then it is refused', () => {
    expect(clinicFindings(`rules:
  - name: a
    conditions: { all: [{ fact: time.date, operator: in, value: [2026-12-24, 12/25/2026] }] }
    event: { type: route-to-staff }
`)).to.deep.equal(['3:78: rules[0].conditions.all[0]: "12/25/2026" can never match: time.date is written YYYY-MM-DD (e.g. 2026-12-24)']);
  });

  it('when one line of a rules file is indented wrong, then one finding says so in plain words, at the first place the parser stumbles', () => {
    const found = parseRulesFile(
      `rules:
  - name: a
    priority: 5
     halt: true
    conditions:
      all:
        - { fact: patients.known, operator: equal, value: true }
    event: { type: route-to-staff }
`,
      'rules/clinics/downtown.yaml',
      'clinic',
    ).findings.map((f) => `${f.line}:${f.col}: ${f.message}`);
    expect(found).to.deep.equal([
      '3:15: bad indentation: the next line is indented further than this one, so it is read as part of this value; line up the keys of one map (and the "-" of one list) at the same column (Nested mappings are not allowed in compact mappings)',
    ]);
  });

  it('when the clinics file has a bad indent, then it too gets one plain finding', () => {
    let findings: Finding[] = [];
    try {
      parseClinics('clinics:\n  - id: downtown\n    name: Downtown\n     timezone: America/Chicago\n', 'config/clinics.yaml');
    } catch (err) {
      expect(isAppError(err)).to.equal(true);
      findings = (err as { findings: Finding[] }).findings;
    }
    expect(findings).to.have.length(1);
    expect(findings[0]?.message).to.match(/^bad indentation: /);
  });
});

describe('rules test: one stream, --at, and the hours a case states', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'clinic-sms-rules-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when a case fails, then the whole report still goes to stdout (so > report.txt keeps it) and the exit status is 1', async () => {
    writeFileSync(join(dir, 'a.test.yaml'), 'clinic: downtown\ntests:\n  - name: wrong on purpose\n    message: hello\n    expect: { rules: [help] }\n');
    const io = captureIO();
    expect(await runCli(['rules', 'test', join(dir, 'a.test.yaml'), '--rules', RULES_DIR], io)).to.equal(1);
    expect(io.stderr).to.deep.equal([]);
    expect(io.stdout.join('\n')).to.include('FAIL  wrong on purpose').and.include('rules test: 1 of 1 cases failed');
  });

  it('when --at is given, then cases without a time of their own run at it; a bad --at is a usage error', async () => {
    writeFileSync(
      join(dir, 'at.test.yaml'),
      'clinic: downtown\ntests:\n  - name: a Saturday is after hours\n    businessHours: { wed: "08:00-17:00" }\n    patients: [{ firstName: Ana }]\n    message: hello\n    expect: { rules: [after-hours-message] }\n',
    );
    const io = captureIO();
    expect(await runCli(['rules', 'test', join(dir, 'at.test.yaml'), '--rules', RULES_DIR], io)).to.equal(1);
    const saturday = captureIO();
    expect(await runCli(['rules', 'test', join(dir, 'at.test.yaml'), '--rules', RULES_DIR, '--at', '2030-01-12 10:00'], saturday)).to.equal(0);
    const bad = captureIO();
    expect(await runCli(['rules', 'test', join(dir, 'at.test.yaml'), '--at', 'next tuesday'], bad)).to.equal(2);
    expect(bad.stderr[0]).to.equal('error: --at "next tuesday": expected "2030-01-09 10:00" (clinic time) or an ISO time with a zone');
  });

  it('when a case states business hours (or "always"), then they hold whatever the clinics file says; bad hours are a finding', async () => {
    writeFileSync(
      join(dir, 'hours.test.yaml'),
      `clinic: downtown
at: "2030-01-12 23:00"
tests:
  - name: with no hours, Saturday night is open
    businessHours: always
    patients: [{ firstName: Ana }]
    message: hello
    expect: { rules: [message-to-staff] }
  - name: with Saturday hours until midnight, Saturday night is open
    businessHours: { sat: ["09:00-12:00", "18:00-24:00"] }
    patients: [{ firstName: Ana }]
    message: hello
    expect: { rules: [message-to-staff] }
  - name: Downtown as listed is closed on Saturday night
    patients: [{ firstName: Ana }]
    message: hello
    expect: { rules: [after-hours-message] }
`,
    );
    const io = captureIO();
    expect(await runCli(['rules', 'test', join(dir, 'hours.test.yaml'), '--rules', RULES_DIR], io)).to.equal(0);
    writeFileSync(join(dir, 'bad.test.yaml'), 'clinic: downtown\ntests:\n  - name: x\n    businessHours: { sat: "9-5" }\n    message: hello\n    expect: { rules: [help] }\n');
    const bad = captureIO();
    expect(await runCli(['rules', 'test', join(dir, 'bad.test.yaml'), '--rules', RULES_DIR], bad)).to.equal(1);
    expect(bad.stdout.join('\n')).to.include(`${join(dir, 'bad.test.yaml')}:4:20: businessHours: sat: expected "HH:MM-HH:MM" (24-hour, opening before closing), a list of them, or "closed", or "always" (open around the clock)`);
  });
});
