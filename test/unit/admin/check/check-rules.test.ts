// Reads the live rules/ on purpose in two tests only: the shipped rules have no errors and pass --strict. Everything else uses fixtures.
import { expect } from 'chai';
import { checkRules, type CheckReport } from '../../../../src/admin/check/check-rules.js';

const DIR = 'test/fixtures/rules-check';
const CLINICS = `${DIR}/clinics.yaml`;

/** "file:line:col: [warning: ]message" lines, as admins read them. */
function lines(report: CheckReport): string[] {
  return report.findings.map((f) => `${f.file}:${f.line}:${f.col}: ${f.severity === 'warning' ? 'warning: ' : ''}${f.message}`);
}

function find(report: CheckReport, part: string): string {
  const found = lines(report).filter((l) => l.includes(part));
  expect(found, `a finding containing ${part} in:\n${lines(report).join('\n')}`).to.have.length(1);
  return found[0] as string;
}

describe('rules check', () => {
  describe('valid files', () => {
    it('when every file is valid and nothing is suspicious, then there are no findings and every clinic is ready', async () => {
      const report = await checkRules({ rulesDir: `${DIR}/good`, clinicsFile: CLINICS });
      expect(lines(report)).to.deep.equal([]);
      expect(report.clinics).to.deep.equal(['alpha', 'beta']);
      expect(report.errors).to.equal(0);
    });

    it('when the shipped rules are checked, then they have no errors', async () => {
      const report = await checkRules({ rulesDir: 'rules', clinicsFile: 'config/clinics.yaml' });
      expect(report.findings.filter((f) => f.severity !== 'warning')).to.deep.equal([]);
      expect(report.clinics).to.deep.equal(['downtown', 'lakeside']);
    });
  });

  describe('errors', () => {
    let report: CheckReport;
    before(async () => {
      report = await checkRules({ rulesDir: `${DIR}/errors`, clinicsFile: CLINICS });
    });

    it('when a field is not in the schema, then it is an error at the field', () => {
      expect(find(report, 'unknown field "colour"')).to.equal(`${DIR}/errors/clinics/beta.yaml:5:5: rules[0]: unknown field "colour"`);
    });

    it('when a rule names an unknown fact, then it is an error at the fact', () => {
      expect(find(report, 'message.mood')).to.match(new RegExp(`^${DIR}/errors/default.yaml:16:19: rules\\[1\\].conditions.all\\[0\\]: unknown fact "message.mood"`));
    });

    it('when a rule names an unknown operator, then it is an error at the operator', () => {
      expect(find(report, 'louderThan')).to.match(new RegExp(`^${DIR}/errors/default.yaml:21:48: .*unknown operator "louderThan"`));
    });

    it('when a rule names an unknown action, then it is an error at the event type', () => {
      expect(find(report, 'send-email')).to.equal(`${DIR}/errors/default.yaml:22:20: rules[2].event.type: unknown action "send-email" (actions: opt-out, opt-in, help, safety, confirm-appointment, cancel-appointment, reschedule-appointment, ask-which-appointment, route-to-staff, reply-only, no-reply)`);
    });

    it('when a reply names an unknown template, then it is an error at the reply', () => {
      expect(find(report, 'welcome')).to.equal(`${DIR}/errors/default.yaml:27:49: rules[3].event.params.reply: unknown template "welcome"`);
    });

    it('when a template uses an unknown merge field, then it is an error at the field inside the text', () => {
      expect(find(report, 'patient.nickname')).to.match(new RegExp(`^${DIR}/errors/default.yaml:29:13: templates.bye: unknown merge field`));
    });

    it('when two rules share a name, then the second is an error', () => {
      expect(find(report, 'already used')).to.equal(`${DIR}/errors/default.yaml:23:11: rules[3].name: "greet" is already used by rules[1] in this file`);
    });

    it('when a clinic disables a rule that does not exist, then it is an error at the name', () => {
      expect(find(report, 'opt-out-old')).to.equal(
        `${DIR}/errors/clinics/alpha.yaml:2:11: disable[0]: no rule named "opt-out-old" in ${DIR}/errors/default.yaml`,
      );
    });

    it('when there are errors, then they are counted, sorted by file and line, and no clinic is ready', () => {
      expect(report.errors).to.equal(8);
      expect(report.clinics).to.deep.equal([]);
      const keys = report.findings.map((f) => [f.file, f.line, f.col] as const);
      const sorted = [...keys].sort((a, b) => a[0].localeCompare(b[0]) || a[1] - b[1] || a[2] - b[2]);
      expect(keys).to.deep.equal(sorted);
    });

    it('when the clinics file is invalid, then its findings are errors with their positions', async () => {
      const broken = await checkRules({ rulesDir: `${DIR}/good`, clinicsFile: `${DIR}/broken-clinics.yaml` });
      expect(lines(broken)).to.deep.equal([`${DIR}/broken-clinics.yaml:4:20: clinics[0].phoneNumbers[0]: "555-0400" is not E.164 (e.g. +13125550100)`]);
      expect(broken.errors).to.equal(1);
    });

    it('when the rules folder does not exist, then default.yaml is reported missing', async () => {
      const missing = await checkRules({ rulesDir: `${DIR}/no-such-folder`, clinicsFile: CLINICS });
      expect(lines(missing)[0]).to.match(new RegExp(`^${DIR}/no-such-folder/default.yaml:1:1: cannot read`));
    });
  });

  describe('warnings', () => {
    let report: CheckReport;
    before(async () => {
      report = await checkRules({ rulesDir: `${DIR}/warnings`, clinicsFile: CLINICS });
    });

    it('when there are only warnings, then there are no errors and every clinic is ready', () => {
      expect(report.errors).to.equal(0);
      expect(report.warnings).to.equal(lines(report).length);
      expect(report.clinics).to.deep.equal(['alpha', 'beta']);
    });

    it('when a bare carrier opt-out word cancels an appointment, then it is a warning at the keyword variant', () => {
      expect(find(report, 'bare "CANCEL"')).to.equal(
        `${DIR}/warnings/default.yaml:14:10: warning: keywords.CANCEL.en[0]: a bare "CANCEL" from a patient runs cancel-appointment (rule "cancel"); Twilio and carriers treat it as an opt-out: the number stops getting any text from the clinic until it sends START`,
      );
    });

    it('when a carrier opt-in word confirms an appointment, then it is a warning at the keyword variant', () => {
      expect(find(report, 'bare "YES"')).to.match(new RegExp(`^${DIR}/warnings/default.yaml:11:19: warning: keywords.CONFIRM.en\\[1\\]: a bare "YES" from an opted-out patient runs confirm-appointment`));
    });

    it('when a carrier opt-out word is not a keyword at all, then it is a warning at the keywords section', () => {
      expect(find(report, 'bare "END"')).to.match(new RegExp(`^${DIR}/warnings/default.yaml:2:1: warning: keywords: a bare "END" from a patient runs no opt-out action`));
    });

    it('when carrier words do what carriers do, then there is no warning about them', () => {
      for (const word of ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'QUIT', 'REVOKE', 'OPTOUT', 'START', 'UNSTOP', 'HELP', 'INFO']) {
        expect(lines(report).some((l) => l.includes(`bare "${word}"`)), word).to.equal(false);
      }
    });

    it('when a higher-priority halting rule has the same keyword and fewer conditions, then the lower rule can never fire', () => {
      expect(find(report, '"confirm-known" can never fire')).to.equal(
        `${DIR}/warnings/default.yaml:44:5: warning: rule "confirm-known" can never fire: rule "confirm" (priority 50, halts, ${DIR}/warnings/default.yaml:37:5) matches every message it matches and stops lower priorities first`,
      );
    });

    it('when a halting rule has a wider number range, then the narrower lower rule can never fire', () => {
      expect(find(report, '"night" can never fire')).to.match(new RegExp(`^${DIR}/warnings/default.yaml:65:5: warning: rule "night" can never fire: rule "late-evening"`));
    });

    it('when a rule of equal priority or one that does not halt overlaps, then it is not reported', () => {
      expect(lines(report).some((l) => l.includes('"cancel" can never fire') || l.includes('"late-evening" can never fire'))).to.equal(false);
    });

    it('when a GSM-7 reply takes two segments with typical values, then it is a warning per clinic with the count', () => {
      expect(find(report, 'templates.help.en: 2 SMS segments (196')).to.equal(
        `${DIR}/warnings/default.yaml:74:9: warning: templates.help.en: 2 SMS segments (196 GSM-7 characters) with typical merge values; 160 GSM-7 characters fit one segment, 153 each part of a longer one (clinic alpha)`,
      );
      expect(find(report, 'templates.help.en: 2 SMS segments (193')).to.match(/\(clinic beta\)$/);
    });

    it('when an accent makes a reply UCS-2, then the warning names the character and the 70-character limit', () => {
      expect(find(report, 'templates.bye.es')).to.equal(
        `${DIR}/warnings/clinics/alpha.yaml:5:9: warning: templates.bye.es: 2 SMS segments (77 UCS-2 characters, UCS-2 because of "á") with typical merge values; 70 UCS-2 characters fit one segment, 67 each part of a longer one`,
      );
    });

    it('when a longer segment budget is allowed, then two-segment replies pass', async () => {
      const relaxed = await checkRules({ rulesDir: `${DIR}/warnings`, clinicsFile: CLINICS, maxSegments: 2 });
      expect(lines(relaxed).some((l) => l.includes('SMS segments'))).to.equal(false);
    });

    it('when a clinic lists es and a keyword its rules use has no Spanish variant, then it is a warning for that clinic', () => {
      expect(find(report, 'keywords.START: no Spanish')).to.equal(
        `${DIR}/warnings/default.yaml:6:3: warning: keywords.START: no Spanish variant (add es: [...]) though the clinic lists es; a Spanish START goes unrecognised (clinic alpha)`,
      );
      expect(find(report, 'keywords.HELP: no Spanish')).to.match(/^.*default.yaml:8:3: /);
      expect(lines(report).some((l) => l.includes('keywords.STOP: no Spanish') || l.includes('keywords.CONFIRM: no Spanish'))).to.equal(false);
    });

    it('when a clinic lists es and a template has texts per language but no es, then it is a warning', () => {
      expect(find(report, 'templates.help: no es text')).to.match(new RegExp(`^${DIR}/warnings/default.yaml:73:3: warning: .*\\(clinic alpha\\)$`));
    });

    it('when a clinic rules file names no clinic, then it is a warning', () => {
      expect(find(report, 'gamma')).to.equal(`${DIR}/warnings/clinics/gamma.yaml:1:1: warning: no clinic "gamma" in ${CLINICS}: this file is not used`);
    });
  });

  describe('accepted warnings and the unknown-number rule', () => {
    let report: CheckReport;
    before(async () => {
      report = await checkRules({ rulesDir: `${DIR}/accepted`, clinicsFile: CLINICS });
    });

    it('when a keyword rule for every sender has a priority below the unknown-number rule, then it is a warning at the rule naming both priorities', () => {
      expect(find(report, 'never answers unknown numbers')).to.match(
        new RegExp(`^${DIR}/accepted/default.yaml:54:5: warning: rule "hours" \\(priority 50\\) never answers unknown numbers: rule "unknown-number" \\(priority 90, halts\\)`),
      );
      expect(report.findings.find((f) => f.message.includes('never answers'))?.code).to.equal('unknown-number-shadow');
    });

    it('when a keyword rule is above the unknown-number rule, tests patients.known, or needs a patient, then it is not reported', () => {
      for (const rule of ['directions', 'confirm', 'to-staff', 'opt-out', 'help']) {
        expect(lines(report).some((l) => l.includes(`rule "${rule}" (priority`)), rule).to.equal(false);
      }
    });

    it('when a rule or template accepts a warning code, then that warning is counted as accepted and not listed', () => {
      expect(lines(report).some((l) => l.includes('"parking"') || l.includes(`${DIR}/accepted/default.yaml`) && l.includes('templates.hours'))).to.equal(false);
      // parking (for both clinics: one warning) and the default hours text (alpha; beta has its own text).
      expect(report.accepted).to.equal(2);
      expect(report.warnings).to.equal(2);
    });

    it('when a clinic replaces an accepting template without accept, then its own text is reported again', () => {
      expect(find(report, 'templates.hours')).to.match(new RegExp(`^${DIR}/accepted/clinics/beta.yaml:4:10: warning: templates.hours: 2 SMS segments`));
    });

    it('when accept names something that is not a warning code, then it is an error at the code', async () => {
      const { parseRulesFile } = await import('../../../../src/rules/rules-file.js');
      const parsed = parseRulesFile('version: 1\ntemplates:\n  hi:\n    en: "Hi"\n    accept: [too-long]\n  bare:\n    accept: [reply-length]\n', 'x.yaml', 'clinic');
      expect(parsed.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
        '5:14: templates.hi.accept[0]: not a warning code (unreachable-rule, carrier-word, reply-length, missing-spanish, unknown-number-shadow, unused-file, past-closure)',
        '7:5: templates.bare: no text (accept: alone is not a template; give en: ...)',
      ]);
    });

    it('when the shipped rules are checked, then every warning is accepted in the files: --strict passes', async () => {
      const shipped = await checkRules({ rulesDir: 'rules', clinicsFile: 'config/clinics.yaml' });
      expect(lines(shipped)).to.deep.equal([]);
      expect(shipped.accepted).to.be.greaterThan(0);
    });
  });
});
