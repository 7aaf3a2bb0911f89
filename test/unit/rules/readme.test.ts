// Reads the live rules/ on purpose: it checks rules/README.md's promises against the shipped files. (Allowed in test/support/fixture-rules.ts.)
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTIONS } from '../../../src/actions/index.js';
import { FACT_NAMES, OPERATORS } from '../../../src/rules/fact-catalog.js';
import { MERGE_FIELDS } from '../../../src/rules/templates.js';
import { PHRASE_OPERATORS } from '../../../src/rules/phrases.js';
import { compileClinicRules, parseRulesFile } from '../../../src/rules/load-rules.js';
import { checkRules } from '../../../src/admin/check/check-rules.js';
import { formatTestReport, runTestFiles } from '../../../src/admin/test-runner/run-tests.js';
import { makeClinic, makeWorld, realRules, send } from '../../support/rules-builders.js';
import { SHIPPED_RULES_DIR as RULES_DIR } from '../../support/fixture-rules.js';

const readme = readFileSync(join(RULES_DIR, 'README.md'), 'utf8');

describe('rules/README.md', () => {
  it('when the guide is read, then it documents every fact, operator, action with its outcomes, and merge field', () => {
    for (const fact of FACT_NAMES) {
      expect(readme, fact).to.contain(`\`${fact}\``);
    }
    for (const operator of [...OPERATORS, ...PHRASE_OPERATORS]) {
      expect(readme, operator).to.contain(`\`${operator}\``);
    }
    for (const action of ACTIONS.values()) {
      expect(readme, action.name).to.contain(`\`${action.name}\``);
      for (const outcome of action.outcomes) {
        expect(readme, `${action.name} ${outcome}`).to.contain(`\`${outcome}\``);
      }
    }
    for (const field of Object.keys(MERGE_FIELDS)) {
      expect(readme, field).to.contain(`{{${field}}}`);
    }
  });

  it('when the guide lists default templates, then it names each one in rules/default.yaml', async () => {
    const rules = await realRules(makeClinic({ id: 'lakeside', languages: ['en'] }), RULES_DIR);
    for (const name of rules.templates.keys()) {
      expect(readme, name).to.contain(`\`${name}\``);
    }
  });

  it('when each example of the Examples section is used as a clinic file, then it compiles', () => {
    const examples = readme.slice(readme.indexOf('## Examples'));
    const blocks = [...examples.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(blocks).to.have.length(4);
    const defaults = parseRulesFile(readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8'), 'rules/default.yaml', 'default');
    for (const block of blocks) {
      const clinicFile = parseRulesFile(block, 'rules/clinics/downtown.yaml', 'clinic');
      const result = compileClinicRules(defaults, clinicFile, makeClinic());
      expect(result.findings, block).to.deep.equal([]);
      expect(result.rules).to.not.equal(null);
    }
  });

  it('when the Phrases section\'s example is used as a clinic file, then it compiles and finds its phrases', async () => {
    const section = readme.slice(readme.indexOf('## Phrases'), readme.indexOf('### YAML anchors'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const defaults = parseRulesFile(readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8'), 'rules/default.yaml', 'default');
    const result = compileClinicRules(defaults, parseRulesFile(block, 'rules/clinics/downtown.yaml', 'clinic'), makeClinic());
    expect(result.findings).to.deep.equal([]);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { decision } = await send(result.rules!, world, 'I have Chest Pain');
    expect(decision.events.map((e) => e.ruleName)).to.deep.equal(['emergency']);
    const thanks = await send(result.rules!, world, 'Gracias!');
    expect(thanks.outcome.reply).to.equal(null);
  });

  it('when the emergency example of "A STOP is never swallowed" is a clinic file, then its STOP message ends opted out with the confirmation', async () => {
    const section = readme.slice(readme.indexOf('### A STOP is never swallowed'), readme.indexOf('### Safety nets'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const defaults = parseRulesFile(readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8'), 'rules/default.yaml', 'default');
    const result = compileClinicRules(defaults, parseRulesFile(block, 'rules/clinics/downtown.yaml', 'clinic'), makeClinic());
    expect(result.findings).to.deep.equal([]);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    const { outcome } = await send(result.rules!, world, 'Stop texting me, this is not an emergency');
    expect(outcome.actions.map((a) => a.type)).to.deep.equal(['route-to-staff', 'opt-out']);
    expect(outcome.reply).to.match(/You are unsubscribed/);
  });

  it('when the Urgent and Safety replies examples are clinic files, then they compile, route urgently, and the safety text reaches an opted-out number', async () => {
    const blockOf = (from: string, to: string): string => /```yaml\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(from), readme.indexOf(to)))?.[1] ?? '';
    const defaults = parseRulesFile(readFileSync(join(RULES_DIR, 'default.yaml'), 'utf8'), 'rules/default.yaml', 'default');
    const urgent = compileClinicRules(defaults, parseRulesFile(blockOf('## Urgent', '## Safety replies'), 'rules/clinics/downtown.yaml', 'clinic'), makeClinic());
    expect(urgent.findings).to.deep.equal([]);
    const world = await makeWorld([{ firstName: 'Ana' }]);
    await send(urgent.rules!, world, 'trouble breathing since noon');
    expect(world.routed.map((r) => [r.priority, r.priorityReason])).to.deep.equal([['urgent', 'chest pain or breathing']]);
    const safety = compileClinicRules(defaults, parseRulesFile(blockOf('## Safety replies', '## Templates and merge fields'), 'rules/clinics/downtown.yaml', 'clinic'), makeClinic());
    expect(safety.findings).to.deep.equal([]);
    const optedOut = await makeWorld([{ firstName: 'Ben' }]);
    await send(safety.rules!, optedOut, 'STOP');
    const { outcome } = await send(safety.rules!, optedOut, "I can't breathe");
    expect(outcome.reply).to.equal('If this is an emergency, call 911 now. We have told our staff.');
    expect(outcome.actions.map((a) => a.type)).to.deep.equal(['safety', 'route-to-staff']);
  });

  it('when the shape of a rule is shown, then it names version: 1, and the test section says status comes from the sender', () => {
    const shape = readme.slice(readme.indexOf('## The shape of a rule'), readme.indexOf('### How rules run'));
    expect(shape).to.match(/^version: 1 /m);
    expect(readme).to.include('it comes from the **sender**,\nnot from the rules that fired');
  });

  describe('the walk-through', () => {
    const walk = readme.slice(readme.indexOf('## Walk-through'));
    const blocks = (lang: string): string[] => [...walk.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] ?? '');
    let dir: string;

    before(() => {
      // rules/ with the walk-through's edit (keyword, rule and template) made in downtown's file.
      dir = mkdtempSync(join(tmpdir(), 'clinic-sms-walk-through-'));
      cpSync(RULES_DIR, join(dir, 'rules'), { recursive: true });
      const [edit = '', template = ''] = blocks('yml');
      const [keywords = '', rules = ''] = edit.replace(/^keywords:\n/, '').split(/^rules:\n/m);
      const file = join(dir, 'rules', 'clinics', 'downtown.yaml');
      const text = readFileSync(file, 'utf8')
        .replace(/( {4}es: \[HORARIO, HORAS\]\n)/, `$1${keywords}`)
        .replace(/( {8}reply: office-hours\n)/, `$1${rules}`);
      writeFileSync(file, `${text}${template.replace(/^templates:\n/, '')}`);
      writeFileSync(join(dir, 'running-late.test.yaml'), blocks('yml').find((b) => b.startsWith('# rules/tests/running-late.test.yaml')) ?? '');
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it('when the shown test file runs against the edited rules, then the FAIL output is the one the guide shows', async () => {
      const report = await runTestFiles([join(dir, 'running-late.test.yaml')], { rulesDir: join(dir, 'rules'), clinicsFile: 'config/clinics.yaml' });
      const actual = formatTestReport(report).split(join(dir, 'running-late.test.yaml')).join('rules/tests/running-late.test.yaml');
      const shown = blocks('console').find((b) => b.startsWith('$ npm run rules -- test')) ?? '';
      expect(actual).to.equal(shown.split('\n').slice(1).join('\n').trimEnd());
    });

    it('when the edited rules are checked, then the findings and summary are the ones the guide shows', async () => {
      const report = await checkRules({ rulesDir: join(dir, 'rules'), clinicsFile: 'config/clinics.yaml' });
      const warning = report.findings.map((f) => `${f.file.replace(`${dir}/`, '')}:${f.line}:${f.col}: warning: ${f.message} [${f.code ?? ''}]`);
      const shown = blocks('console').filter((b) => b.startsWith('$ npm run rules -- check'))[1] ?? '';
      expect(warning).to.deep.equal([shown.split('\n')[1]]);
      expect(shown).to.include(`0 errors, ${report.warnings} warning, ${report.accepted} accepted in 3 files`);
    });
  });
});
