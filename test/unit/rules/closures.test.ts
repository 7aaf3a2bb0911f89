import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRules } from '../../../src/admin/check/check-rules.js';
import { simulate } from '../../../src/admin/simulate.js';
import { runTestFiles } from '../../../src/admin/test-runner/run-tests.js';
import { parseClinics } from '../../../src/config/clinics-file.js';
import { isAppError, type Finding } from '../../../src/errors.js';
import { loadRules } from '../../../src/rules/load-rules.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { RULES_DIR, makeWorld, realRules, send } from '../../support/rules-builders.js';

const CLINICS = `clinics:
  - id: downtown
    name: Downtown Family Clinic
    phoneNumbers: ["+13125550100"]
    officePhone: "(312) 555-0199"
    timezone: America/Chicago
    languages: [en, es]
    businessHours:
      mon: "08:00-17:00"
      tue: "08:00-17:00"
      wed: "08:00-17:00"
      thu: "08:00-17:00"
      fri: "08:00-15:00"
    closures:
      - from: 2030-12-24
        to: 2030-12-26
        reason: Christmas
        reply:
          en: "Downtown Family Clinic is closed for Christmas until Dec 27. For an emergency, call 911."
          es: "Downtown Family Clinic está cerrada por Navidad hasta el 27 de dic. En caso de emergencia, llame al 911."
      - date: 2031-01-01
        reason: New Year's Day
`;

function findingsOf(text: string): string[] {
  try {
    parseClinics(text, 'config/clinics.yaml');
  } catch (err) {
    expect(isAppError(err)).to.equal(true);
    return ((err as { findings: Finding[] }).findings ?? []).map((f) => `${f.line}:${f.col}: ${f.message}`);
  }
  return [];
}

describe('closures (holidays) in the clinics file', () => {
  it('when a clinic lists closures, then each is a date range with its reason and replies by language', () => {
    const downtown = parseClinics(CLINICS, 'config/clinics.yaml').byId.get('downtown');
    expect(downtown?.closures?.map(({ source: _s, ...c }) => c)).to.deep.equal([
      {
        from: '2030-12-24',
        to: '2030-12-26',
        reason: 'Christmas',
        reply: {
          en: 'Downtown Family Clinic is closed for Christmas until Dec 27. For an emergency, call 911.',
          es: 'Downtown Family Clinic está cerrada por Navidad hasta el 27 de dic. En caso de emergencia, llame al 911.',
        },
      },
      { from: '2031-01-01', to: '2031-01-01', reason: "New Year's Day" },
    ]);
    expect(downtown?.closures?.[0]?.source).to.deep.equal({ file: 'config/clinics.yaml', line: 15, col: 9 });
  });

  it('when a closure is written wrong, then each mistake is reported at file:line:col in plain words', () => {
    const bad = `${CLINICS.split('    closures:')[0]}    closures:
      - { date: 2030-02-30 }
      - { from: 2030-12-26, to: 2030-12-24 }
      - { date: 2030-12-25, from: 2030-12-24 }
      - { day: 2030-12-25 }
      - { date: 2030-12-25, reply: { fr: "Fermé" } }
      - { date: 2030-12-25, reply: "Closed, {{patient.firstName}}" }
`;
    expect(findingsOf(bad)).to.deep.equal([
      '15:17: clinics[0].closures[0].date: "2030-02-30" is not a date written YYYY-MM-DD',
      '16:33: clinics[0].closures[1].to: 2030-12-24 is before from: 2030-12-26',
      '17:17: clinics[0].closures[2]: give date (one day) or from and to (a range), not both',
      '18:9: clinics[0].closures[3]: needs date: YYYY-MM-DD, or from: and to:',
      '18:11: clinics[0].closures[3]: unknown field "day" (date, from, to, reason, reply)',
      "19:36: clinics[0].closures[4].reply.fr: the clinic's languages are en, es",
      "20:36: clinics[0].closures[5].reply: a closure's reply is sent as written: {{merge fields}} are not filled",
    ]);
  });

  describe('facts, the shipped closed-today rule, simulate and rules test', () => {
    const clinic = parseClinics(CLINICS, 'config/clinics.yaml').byId.get('downtown')!;
    const christmas = new Date('2030-12-25T16:00:00Z'); // Wednesday 10:00 in Chicago
    const after = new Date('2030-12-27T16:00:00Z'); // Friday 10:00

    it('when a message arrives on a closure day, then time.date is the local date, time.closedToday is true, and the clinic is out of business hours', async () => {
      const rules = await realRules(clinic);
      const world = await makeWorld([{ firstName: 'Ana' }], { clinic });
      const early = await send(rules, world, 'hello', { now: new Date('2030-12-24T05:30:00Z') }); // 23:30 on the 23rd in Chicago
      expect(early.decision.facts).to.include({ 'time.date': '2030-12-23', 'time.closedToday': false });
      const { decision } = await send(rules, world, 'hello', { now: christmas });
      expect(decision.facts).to.include({ 'time.date': '2030-12-25', 'time.closedToday': true, 'time.inBusinessHours': false });
    });

    it('when a patient texts on a closure day, then the closed-today rule answers with the closure\'s own reply in their language, and staff get the message', async () => {
      const rules = await realRules(clinic);
      const world = await makeWorld([{ firstName: 'Ana', language: 'es' }], { clinic });
      const { outcome } = await send(rules, world, '¿Está abierto?', { now: christmas });
      expect(outcome.rulesFired).to.deep.equal(['closed-today']);
      expect(outcome.reply).to.equal('Downtown Family Clinic está cerrada por Navidad hasta el 27 de dic. En caso de emergencia, llame al 911.');
      expect(world.routed.map((r) => r.reason)).to.deep.equal(['message']);
      const open = await send(rules, world, '¿Está abierto?', { now: after });
      expect(open.outcome.rulesFired).to.deep.equal(['message-to-staff']);
    });

    it('when the closure gives no reply, then the shipped closed-today template answers', async () => {
      const rules = await realRules(clinic);
      const world = await makeWorld([{ firstName: 'Ana' }], { clinic });
      const { outcome } = await send(rules, world, 'hello', { now: new Date('2031-01-01T16:00:00Z') });
      expect(outcome.reply).to.equal('Thank you for your message. Downtown Family Clinic is closed today; we will respond when we reopen. For an emergency, call 911.');
    });

    it('when simulate and rules test are given times across a closure, then the closure applies on its days only', async () => {
      const clinics = parseClinics(CLINICS, 'config/clinics.yaml');
      const rules = await loadRules({ rulesDir: RULES_DIR, clinics: clinics.clinics });
      const store = new MemoryStore();
      await store.init();
      await store.upsertPatients([{ id: 'p1', clinicId: 'downtown', firstName: 'Ben', lastName: 'Test', phone: '+13125550142' }]);
      const sim = (at: string) => simulate({ clinics, rules, store, clinicId: 'downtown', from: '+13125550142', body: 'are you open', at });
      expect((await sim('2030-12-23 10:00')).rules.filter((r) => r.result === 'matched').map((r) => r.name)).to.deep.equal(['message-to-staff']);
      expect((await sim('2030-12-24 10:00')).rules.filter((r) => r.result === 'matched').map((r) => r.name)).to.deep.equal(['closed-today']);
      expect((await sim('2030-12-26 23:59')).facts).to.include({ 'time.closedToday': true });
      expect((await sim('2030-12-27 00:00')).facts).to.include({ 'time.closedToday': false });

      const dir = mkdtempSync(join(tmpdir(), 'clinic-sms-closures-'));
      try {
        writeFileSync(join(dir, 'clinics.yaml'), CLINICS);
        writeFileSync(
          join(dir, 'closures.test.yaml'),
          `clinic: downtown
clinicsFile: clinics.yaml
tests:
  - name: the day before Christmas Eve is an ordinary day
    at: "2030-12-23 10:00"
    patients: [{ firstName: Ana }]
    message: are you open
    expect: { rules: [message-to-staff] }
  - name: Christmas Eve is closed
    at: "2030-12-24 10:00"
    patients: [{ firstName: Ana }]
    message: are you open
    expect: { rules: [closed-today], reply: "/closed for Christmas/" }
`,
        );
        const report = await runTestFiles([join(dir, 'closures.test.yaml')], { rulesDir: RULES_DIR, clinicsFile: 'config/clinics.yaml' });
        expect(report.files[0]?.findings).to.deep.equal([]);
        expect(report.files[0]?.cases.map((c) => [c.name, c.passed, c.mismatches])).to.deep.equal([
          ['the day before Christmas Eve is an ordinary day', true, []],
          ['Christmas Eve is closed', true, []],
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('when a closure is over, then rules check warns with its place in the clinics file (past-closure)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clinic-sms-closures-check-'));
    try {
      mkdirSync(join(dir, 'rules'));
      cpSync(RULES_DIR, join(dir, 'rules'), { recursive: true });
      writeFileSync(join(dir, 'clinics.yaml'), CLINICS);
      const report = await checkRules({ rulesDir: join(dir, 'rules'), clinicsFile: join(dir, 'clinics.yaml'), now: new Date('2030-12-28T12:00:00Z') });
      const past = report.findings.filter((f) => f.code === 'past-closure');
      expect(past.map((f) => `${f.file.replace(`${dir}/`, '')}:${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
        'clinics.yaml:15:9: clinic downtown: the closure 2030-12-24 to 2030-12-26 (Christmas) is over (today is 2030-12-28 in America/Chicago): remove it, or fix its year',
      ]);
      const before = await checkRules({ rulesDir: join(dir, 'rules'), clinicsFile: join(dir, 'clinics.yaml'), now: new Date('2030-12-20T12:00:00Z') });
      expect(before.findings.filter((f) => f.code === 'past-closure')).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
