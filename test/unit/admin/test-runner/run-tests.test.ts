import { expect } from 'chai';
import { runTestFiles, formatTestReport } from '../../../../src/admin/test-runner/run-tests.js';
import { parseTestFile, resolveTime } from '../../../../src/admin/test-runner/test-file.js';
import { FIXTURE_RULES_DIR } from '../../../support/fixture-rules.js';

const DIR = 'test/fixtures/rules-test-runner';
const OPTIONS = { rulesDir: FIXTURE_RULES_DIR, clinicsFile: 'config/clinics.yaml' };

describe('rules test runner', () => {
  it('when every expectation holds, then every case passes, one per message of a "messages" list', async () => {
    const report = await runTestFiles([`${DIR}/passing.test.yaml`], OPTIONS);
    expect(report.files[0]?.findings).to.deep.equal([]);
    expect(report.files[0]?.cases.map((c) => [c.name, c.passed])).to.deep.equal([
      ['STOP opts out ["STOP"]', true],
      ['STOP opts out [" stop! "]', true],
      ['CONFIRM confirms, in Spanish for a Spanish keyword', true],
      ['opted out, other text gets no reply', true],
    ]);
    expect(report).to.include({ ok: true, passed: 4, failed: 0 });
    expect(formatTestReport(report).split('\n').at(-1)).to.equal('rules test: all 4 cases passed');
  });

  it('when a case is a conversation, then its messages run in order on one database and a mismatch names the message', async () => {
    const report = await runTestFiles([`${DIR}/conversation.test.yaml`], { rulesDir: FIXTURE_RULES_DIR, clinicsFile: 'test/fixtures/clinics.yaml' });
    expect(report.files[0]?.findings).to.deep.equal([]);
    expect(report.files[0]?.cases.map((c) => [c.name, c.passed])).to.deep.equal([
      ['a family answers the question', true],
      ['a wrong expectation on the second message', false],
    ]);
    expect(report.files[0]?.cases[1]?.mismatches).to.deep.equal([{ field: 'conversation[1] "1": after.appointments.later', expected: 'confirmed', actual: 'scheduled' }]);
  });

  it('when expectations do not hold, then the case fails naming each field with expected and actual', async () => {
    const report = await runTestFiles([`${DIR}/failing.test.yaml`], OPTIONS);
    const failed = report.files[0]?.cases[0];
    expect(report).to.include({ ok: false, passed: 1, failed: 1 });
    expect(failed?.mismatches).to.deep.equal([
      { field: 'rules', expected: ['to-staff'], actual: ['confirm'] },
      { field: 'actions', expected: ['confirm-appointment:already-confirmed'], actual: ['confirm-appointment:confirmed'] },
      { field: 'reply', expected: '/cancelled/', actual: 'Ana, your visit on Thu, Jan 10, 10:00 AM CST is confirmed.' },
      { field: 'after.optedOut', expected: true, actual: false },
      { field: 'after.appointments.a1', expected: 'cancelled', actual: 'confirmed' },
      { field: 'after.inbox', expected: ['message'], actual: [] },
    ]);
    const text = formatTestReport(report);
    expect(text).to.include(`  FAIL  wrong expectations (${DIR}/failing.test.yaml:5:5)\n        rules:\n          expected: [to-staff]\n          actual:   [confirm]`);
    expect(text).to.include('  ok    right expectations');
    expect(text.split('\n').at(-1)).to.equal('rules test: 1 of 2 cases failed');
  });

  it('when after names the conversation (or inbox, its older name), then both are read; both at once or an unknown reason is a finding with its place', () => {
    const text = [
      'clinic: alpha',
      'tests:',
      '  - name: new',
      '    message: hi',
      '    expect:',
      '      after: { conversation: [unknown-number] }',
      '  - name: old',
      '    message: hi',
      '    expect:',
      '      after: { inbox: [message] }',
      '  - name: both',
      '    message: hi',
      '    expect:',
      '      after: { conversation: [], inbox: [] }',
      '  - name: bad',
      '    message: hi',
      '    expect:',
      '      after: { conversation: [lost] }',
    ].join('\n');
    const parsed = parseTestFile(text, 'x.test.yaml');
    expect(parsed.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '14:41: after: give conversation or inbox (its older name), not both',
      '18:31: after.conversation: "lost" is not one of message, cancel-request, reschedule-request, unknown-number, over-limit',
    ]);
    expect(parsed.cases.slice(0, 2).map((c) => c.expect.after?.conversation)).to.deep.equal([
      { reasons: ['unknown-number'], key: 'conversation' },
      { reasons: ['message'], key: 'inbox' },
    ]);
  });

  it('when an unknown number texts in a case, then after.conversation shows it reached staff as unknown-number', async () => {
    const report = await runTestFiles([`${FIXTURE_RULES_DIR}/tests/senders.test.yaml`], { rulesDir: FIXTURE_RULES_DIR, clinicsFile: 'config/clinics.yaml' });
    const unknown = report.files[0]?.cases.filter((c) => c.name.startsWith('an unknown number gets the seed text'));
    expect(unknown?.map((c) => [c.passed, c.actual?.after.conversation])).to.deep.equal([
      [true, ['unknown-number']],
      [true, ['unknown-number']],
      [true, ['unknown-number']],
    ]);
  });

  it('when the test file itself is wrong, then nothing runs and every problem has file:line:col', async () => {
    const report = await runTestFiles([`${DIR}/invalid.test.yaml`], OPTIONS);
    expect(report.ok).to.equal(false);
    expect(report.invalidFiles).to.equal(1);
    expect(report.files[0]?.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '3:5: tests[0]: missing "message" (the text the patient sends; "" for media only)',
      '4:5: unknown field "mesage" (expected name, clinic, at, from, to, optedOut, patients, appointments, message, messages, conversation, media, twilioOptOutType, businessHours, expect)',
      '7:11: tests[1].from: "555-0100" is not an E.164 number (e.g. +13125550142)',
      '9:32: startsIn: expected a duration like 90m, 26h or 2d',
      '9:46: status: "maybe" is not one of scheduled, confirmed, cancel-requested, reschedule-requested, cancelled',
      '12:14: reply: invalid pattern /[unclosed/: Invalid regular expression: /[unclosed/: Unterminated character class',
    ]);
  });

  it('when a case names a clinic that does not exist, then the case fails saying so', async () => {
    const report = await runTestFiles([`${DIR}/unknown-clinic.test.yaml`], OPTIONS);
    expect(report.files[0]?.cases[0]?.error).to.equal('no clinic "omega" (clinics: alpha, beta)');
    expect(report.ok).to.equal(false);
  });

  it('when the rules the tests run on are invalid, then the rules findings are reported and nothing runs', async () => {
    const broken = await runTestFiles([`${FIXTURE_RULES_DIR}/tests/keywords.test.yaml`], { rulesDir: 'test/fixtures/rules-check/errors', clinicsFile: 'test/fixtures/rules-check/clinics.yaml' });
    expect(broken.invalidFiles).to.equal(1);
    expect(broken.files[0]?.findings.some((f) => f.file.endsWith('errors/default.yaml') && f.line === 22 && f.col === 20)).to.equal(true);
  });

  it('when a file does not exist, then it is reported as unreadable', async () => {
    const report = await runTestFiles([`${DIR}/nope.test.yaml`], OPTIONS);
    expect(report.files[0]?.findings[0]).to.include({ line: 1, col: 1, message: 'cannot read: ENOENT' });
  });

  it('when a time has no zone, then it is clinic-local, across a daylight-saving change too', () => {
    expect(resolveTime('2030-01-09 10:00', 'America/Chicago').toISOString()).to.equal('2030-01-09T16:00:00.000Z');
    expect(resolveTime('2030-07-09 10:00', 'America/Chicago').toISOString()).to.equal('2030-07-09T15:00:00.000Z');
    expect(resolveTime('2030-03-10 03:30', 'America/New_York').toISOString()).to.equal('2030-03-10T07:30:00.000Z');
    expect(resolveTime('2030-01-09T10:00:00Z', 'America/Chicago').toISOString()).to.equal('2030-01-09T10:00:00.000Z');
  });

  it('when a case leaves out time, sender and clinic, then the file defaults and the documented defaults apply', () => {
    const parsed = parseTestFile('clinic: alpha\nat: "2030-02-01 08:00"\ntests:\n  - name: a\n    message: hi\n    expect: {}\n', 'x.yaml');
    expect(parsed.cases[0]).to.include({ clinic: 'alpha', at: '2030-02-01 08:00', from: '+13125550142', optedOut: false });
    const bare = parseTestFile('tests:\n  - name: a\n    clinic: beta\n    message: hi\n    expect: {}\n', 'x.yaml');
    expect(bare.cases[0]?.at).to.equal('2030-01-09 10:00');
  });
});
