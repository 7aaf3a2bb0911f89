import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHIPPED_RULES_SUITES } from '../support/fixture-rules.js';

// Tests run on the fixture copy of the rules (test/support/fixture-rules.ts), so an admin's edit
// to the live rules/ folder fails only the suites that check the shipped files. This scan keeps
// it so: a test file outside SHIPPED_RULES_SUITES that points at rules/ fails here, by file:line.
const SELF = 'test/unit/no-live-rules.test.ts';
const LIVE_RULES = [
  /\b(rulesDir|RULES_DIR)\s*[:=]\s*['"`](\.\/)?rules\/?['"`]/,
  /\b(readFileSync|readdirSync|readFile|readdir|existsSync|statSync|cp|cpSync|runTestFiles)\(\s*\[?\s*['"`](\.\/)?rules(\/[^'"`]*)?['"`]/,
  /new URL\(\s*['"`](\.\.\/)+rules\/?['"`]/,
  /['"`](check|test|simulate)['"`]\s*,\s*(['"`]--[a-z-]+['"`]\s*,\s*)*['"`](\.\/)?rules(\/[^'"`]*)?['"`]/,
  /\bSHIPPED_RULES_DIR\b/,
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) {return tsFiles(path);}
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function liveRulesLines(text: string): number[] {
  return text.split('\n').flatMap((line, i) => (LIVE_RULES.some((re) => re.test(line)) ? [i + 1] : []));
}

describe('tests and the live rules/ folder', () => {
  it('when a test file outside the shipped-rules suites is scanned, then none of its lines points at rules/', () => {
    const found = tsFiles('test')
      .map((f) => f.split('\\').join('/'))
      .filter((f) => f !== SELF && !(f in SHIPPED_RULES_SUITES))
      .flatMap((f) => liveRulesLines(readFileSync(f, 'utf8')).map((line) => `${f}:${line}`));
    expect(found, 'use FIXTURE_RULES_DIR from test/support/fixture-rules.ts').to.deep.equal([]);
  });

  it('when a line reads the live folder in any of the usual ways, then the scan flags it', () => {
    const lines = [
      "const config = loadTestConfig({ rulesDir: 'rules' });",
      "        RULES_DIR: 'rules',",
      "await fs.cp('rules', rulesDir, { recursive: true });",
      "cpSync('rules', join(dir, 'rules'), { recursive: true });",
      "const report = await runTestFiles(['rules/tests/senders.test.yaml'], OPTIONS);",
      "const text = readFileSync('rules/default.yaml', 'utf8');",
      "export const RULES_DIR = fileURLToPath(new URL('../../rules', import.meta.url));",
      "expect(await runCli(['rules', 'test', 'rules/tests'], io)).to.equal(0);",
      "expect(await runCli(['rules', 'check', '--strict', 'rules', '--clinics', 'config/clinics.yaml'], io)).to.equal(0);",
      "const dir = SHIPPED_RULES_DIR;",
    ];
    expect(lines.filter((l) => liveRulesLines(l).length === 0)).to.deep.equal([]);
  });

  it('when a line only names rules/ in a label or a temp copy, then the scan lets it be', () => {
    const lines = [
      "describe('default behaviour (rules/default.yaml)', () => {",
      "const file = join(dir, 'rules', 'clinics', 'downtown.yaml');",
      "expect(await runCli(['rules', 'check', '--help'], io)).to.equal(0);",
      "rulesDir: FIXTURE_RULES_DIR,",
    ];
    expect(lines.filter((l) => liveRulesLines(l).length > 0)).to.deep.equal([]);
  });
});
