import { expect } from 'chai';
import { join } from 'node:path';
import { isAppError, type Finding } from '../../../src/errors.js';
import { loadClinicRules, loadRules, parseRulesFile } from '../../../src/rules/load-rules.js';
import { FIXTURES_DIR, RULES_DIR, compileFromText, makeClinic } from '../../support/rules-builders.js';

async function findingsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    expect(isAppError(err), String(err)).to.equal(true);
    expect((err as { code: string }).code).to.equal('RULES_INVALID');
    return (err as { findings: Finding[] }).findings.map((f) => `${f.file.slice(FIXTURES_DIR.length + 1)}:${f.line}:${f.col}: ${f.message}`);
  }
  throw new Error('expected RULES_INVALID');
}

const clinics = [makeClinic(), makeClinic({ id: 'lakeside', name: 'Lakeside Pediatrics', languages: ['en'], phoneNumbers: ['+13125550200'] })];

describe('rules loading', () => {
  it('when the real rules folder is loaded, then every clinic gets frozen compiled rules with a content hash', async () => {
    const rules = await loadRules({ rulesDir: RULES_DIR, clinics });
    expect([...rules.keys()]).to.deep.equal(['downtown', 'lakeside']);
    const downtown = rules.get('downtown');
    expect(downtown?.version).to.match(/^[0-9a-f]{16}$/);
    expect(downtown?.version).to.not.equal(rules.get('lakeside')?.version);
    expect(Object.isFrozen(downtown)).to.equal(true);
    expect(Object.isFrozen(downtown?.rules[0]?.definition.conditions)).to.equal(true);
    expect(downtown?.rules.map((r) => r.name)).to.include('office-hours');
    expect(rules.get('lakeside')?.rules.map((r) => r.name)).to.not.include('office-hours');
  });

  it('when the same files are loaded twice, then the version is the same', async () => {
    const a = await loadClinicRules({ rulesDir: RULES_DIR, clinic: clinics[0]! });
    const b = await loadClinicRules({ rulesDir: RULES_DIR, clinic: clinics[0]! });
    expect(a.version).to.equal(b.version);
  });

  it('when a file has a YAML syntax error, then loading fails with its file:line:col', async () => {
    const found = await findingsOf(loadRules({ rulesDir: join(FIXTURES_DIR, 'bad-syntax'), clinics }));
    expect(found).to.have.length(1);
    expect(found[0]).to.match(/^bad-syntax\/default\.yaml:5:5: a \[ \.\.\. \] or \{ \.\.\. \} is not closed before the next line: close it on this line \(Flow map/);
  });

  it('when a file has many mistakes, then every one is reported with its exact position', async () => {
    const found = await findingsOf(loadRules({ rulesDir: join(FIXTURES_DIR, 'bad-semantics'), clinics }));
    const at = found.map((f) => f.split(': ')[0]!.replace('bad-semantics/default.yaml:', ''));
    expect(at).to.deep.equal(['15:5', '18:19', '22:46', '29:11', '33:13', '37:62', '38:60', '42:29', '42:45', '44:17', '45:17']);
    expect(found.join('\n'))
      .to.contain('rules[1]: missing required field "event"')
      .and.contain('unknown fact "patient.age"')
      .and.contain('unknown operator "matchesRegex"')
      .and.contain('"path" expressions are not allowed')
      .and.contain('unknown action "launch-rocket"')
      .and.contain('message.wordCount equal: expected a number value')
      .and.contain('write "STOP"')
      .and.contain('unknown template "nope"')
      .and.contain('"exploded" is not an outcome of confirm-appointment')
      .and.contain('unknown merge field "{{patient.lastName}}"')
      .and.contain('{{appointment.time}} is not known when an error happens');
  });

  it('when a clinic file disables the STOP rule, names a missing rule, keyword and template, then all four are reported', async () => {
    const found = await findingsOf(loadRules({ rulesDir: join(FIXTURES_DIR, 'bad-clinic'), clinics: [clinics[0]!] }));
    expect(found.map((f) => f.replace(FIXTURES_DIR, '<fixtures>'))).to.deep.equal([
      'bad-clinic/clinics/downtown.yaml:2:11: no rule opts out on STOP any more: carriers and the FCC require it (keep an opt-out rule matching message.command STOP)',
      'bad-clinic/clinics/downtown.yaml:2:20: disable[1]: no rule named "no-such-rule" in <fixtures>/bad-clinic/default.yaml',
      'bad-clinic/clinics/downtown.yaml:8:60: rules[0]: unknown keyword "HOURS" (defined: HELP, STOP)',
      'bad-clinic/clinics/downtown.yaml:12:16: rules[0].event.params.reply: unknown template "office-hours"',
    ]);
  });

  it('when one clinic of two has a bad file, then loadRules fails naming only that file', async () => {
    const found = await findingsOf(loadRules({ rulesDir: join(FIXTURES_DIR, 'bad-clinic'), clinics }));
    expect(found.every((f) => f.startsWith('bad-clinic/clinics/downtown.yaml:'))).to.equal(true);
    const lakeside = await loadClinicRules({ rulesDir: join(FIXTURES_DIR, 'bad-clinic'), clinic: clinics[1]! });
    expect(lakeside.clinicId).to.equal('lakeside');
  });

  it('when the rules folder has no default.yaml, then the finding says the file cannot be read', async () => {
    const found = await findingsOf(loadRules({ rulesDir: join(FIXTURES_DIR, 'missing'), clinics }));
    expect(found).to.have.length(1);
    expect(found[0]).to.match(/^missing\/default\.yaml:1:1: cannot read/);
  });

  it('when a clinic overrides a template, adds a keyword and rule and disables one, then the merge reflects each', async () => {
    const rules = await loadClinicRules({ rulesDir: join(FIXTURES_DIR, 'good'), clinic: clinics[0]! });
    expect(rules.rules.map((r) => r.name)).to.deep.equal(['opt-out', 'office-hours']);
    expect(rules.disabled).to.deep.equal(['help']);
    expect(rules.commands.has('HOURS')).to.equal(true);
    expect(rules.templates.get('opt-out')?.source.file).to.match(/clinics\/downtown\.yaml$/);
    expect(rules.templates.get('help')?.source.file).to.match(/default\.yaml$/);
  });

  it('when a clinic rule has the name of a default rule, then it replaces it', () => {
    const defaults = `
keywords: { STOP: { en: [STOP] }, HELP: { en: [HELP] } }
rules:
  - { name: opt-out, priority: 100, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
  - { name: help, priority: 100, conditions: { all: [ { fact: message.command, operator: equal, value: HELP } ] }, event: { type: help, params: { reply: help } } }
templates: { help: "Default help", system-error: "x" }
`;
    const clinic = `
rules:
  - { name: help, priority: 90, conditions: { all: [ { fact: message.command, operator: equal, value: HELP } ] }, event: { type: help, params: { reply: clinic-help } } }
templates: { clinic-help: "Clinic help" }
`;
    const rules = compileFromText(defaults, clinic);
    expect(rules.rules.map((r) => `${r.name}:${r.priority}:${JSON.stringify(r.reply)}`)).to.deep.equal(['opt-out:100:null', 'help:90:"clinic-help"']);
  });

  it('when a rule uses a custom operator, a fact comparison, params or a condition reference, then each is rejected', () => {
    const file = parseRulesFile(
      `rules:
  - name: sneaky
    conditions:
      all:
        - { fact: message.keyword, operator: "custom:equal", value: X }
        - { fact: message.keyword, operator: equal, value: { fact: clinic.name } }
        - { fact: message.keyword, operator: equal, value: X, params: { a: 1 } }
        - { condition: shared }
    event: { type: reply-only }
`,
      'x.yaml',
      'default',
    );
    expect(file.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '5:46: rules[0].conditions.all[0]: unknown operator "custom:equal" (operators: equal, notEqual, in, notIn, contains, doesNotContain, lessThan, lessThanInclusive, greaterThan, greaterThanInclusive, containsPhrase, containsPhraseFrom; decorators: someFact, someValue, everyFact, everyValue, swap, not)',
      '6:60: rules[0].conditions.all[1]: "value" must be a plain value or a list; comparing with another fact is not supported',
      '7:63: rules[0].conditions.all[2]: fact "params" are not supported',
      '8:13: rules[0].conditions.all[3]: shared condition references are not supported: write the condition out',
    ]);
  });

  it('when conditions have no all/any/not at the top, or an empty list, then the loader says so', () => {
    const file = parseRulesFile(
      `rules:
  - name: flat
    conditions: { fact: message.keyword, operator: equal, value: X }
    event: { type: reply-only }
  - name: empty
    conditions: { any: [] }
    event: { type: reply-only }
`,
      'x.yaml',
      'default',
    );
    expect(file.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '3:17: rules[0].conditions: the top level must be "all", "any" or "not"',
      '6:24: rules[1].conditions.any: the list is empty',
    ]);
  });

  it('when two rules in a file share a name or two keywords share a variant, then both are reported', () => {
    const file = parseRulesFile(
      `keywords:
  STOP: { en: [STOP, "Quit!"] }
  LEAVE: { en: [quit] }
rules:
  - { name: a, conditions: { all: [ { fact: patients.known, operator: equal, value: true } ] }, event: { type: no-reply } }
  - { name: a, conditions: { all: [ { fact: patients.known, operator: equal, value: true } ] }, event: { type: no-reply, params: { reply: x } } }
`,
      'x.yaml',
      'default',
    );
    expect(file.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '3:17: keywords.LEAVE.en[0]: "QUIT" is already a variant of STOP',
      '6:13: rules[1].name: "a" is already used by rules[0] in this file',
      '6:139: rules[1].event.params.reply: the no-reply action sends no reply',
    ]);
  });

  it('when a value has the wrong type for its operator, then the loader explains which type it needs', () => {
    const file = parseRulesFile(
      `rules:
  - name: types
    conditions:
      all:
        - { fact: message.words, operator: equal, value: STOP }
        - { fact: message.keyword, operator: in, value: STOP }
        - { fact: message.keyword, operator: contains, value: STOP }
        - { fact: time.weekday, operator: greaterThan, value: 3 }
        - { fact: message.command, operator: equal, value: "OPT OUT" }
    event: { type: reply-only }
`,
      'x.yaml',
      'default',
    );
    expect(file.findings.map((f) => f.message)).to.deep.equal([
      'rules[0].conditions.all[0]: message.words equal: this fact is a list: use contains or doesNotContain',
      'rules[0].conditions.all[1]: message.keyword in: expected a non-empty list of string values',
      'rules[0].conditions.all[2]: message.keyword contains: contains works on list facts only (message.words, message.mediaTypes, patients.firstNames, clinic.languages)',
      'rules[0].conditions.all[3]: time.weekday greaterThan: greaterThan works on number facts only',
      'rules[0].conditions.all[4]: "OPT OUT" can never match: message.command is a single word',
    ]);
  });

  it('when a file uses a YAML tag or a duplicate key, then it is refused with the position', () => {
    const file = parseRulesFile('templates:\n  help: !!js/function "function () {}"\n  help: "again"\n', 'x.yaml', 'default');
    expect(file.unusable).to.equal(true);
    expect(file.findings.map((f) => `${f.line}:${f.col}`)).to.deep.equal(['2:9', '3:3']);
    expect(file.findings.map((f) => f.message).join('\n')).to.match(/tag/i).and.match(/unique|duplicate/i);
  });

  it('when default.yaml uses disable, then it is rejected (only clinic files disable)', () => {
    const file = parseRulesFile('disable: [help]\n', 'x.yaml', 'default');
    expect(file.findings.map((f) => `${f.line}:${f.col}: ${f.message}`)).to.deep.equal([
      '1:1: disable: only clinic files can disable rules (remove the rule from default.yaml instead)',
    ]);
  });

  it('when a clinic adds a variant the default file gives another keyword, then the clash is reported in the clinic file', () => {
    const defaults = `
keywords: { STOP: { en: [STOP, END] } }
rules:
  - { name: opt-out, priority: 100, conditions: { all: [ { fact: message.command, operator: equal, value: STOP } ] }, event: { type: opt-out } }
templates: { system-error: "x" }
`;
    const clinic = `keywords:\n  FINISH: { en: [end] }\n`;
    expect(() => compileFromText(defaults, clinic)).to.throw(/rules\/clinics\/downtown\.yaml:2:18: keywords\.FINISH\.en\[0\]: "END" is already a variant of STOP/);
  });
});
