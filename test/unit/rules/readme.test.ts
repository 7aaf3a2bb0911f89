import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIONS } from '../../../src/actions/index.js';
import { FACT_NAMES, OPERATORS } from '../../../src/rules/fact-catalog.js';
import { MERGE_FIELDS } from '../../../src/rules/templates.js';
import { compileClinicRules, parseRulesFile } from '../../../src/rules/load-rules.js';
import { RULES_DIR, makeClinic, realRules } from '../../support/rules-builders.js';

const readme = readFileSync(join(RULES_DIR, 'README.md'), 'utf8');

describe('rules/README.md', () => {
  it('when the guide is read, then it documents every fact, operator, action with its outcomes, and merge field', () => {
    for (const fact of FACT_NAMES) {
      expect(readme, fact).to.contain(`\`${fact}\``);
    }
    for (const operator of OPERATORS) {
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
    const rules = await realRules(makeClinic({ id: 'lakeside', languages: ['en'] }));
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
});
