import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { SETTINGS } from '../../../src/config/load-config.js';

/** Variables of the operating system the CLI reads (who ran an export), not settings of the service. */
const OS_VARIABLES = new Set(['USER', 'USERNAME']);

/** The variable names of a markdown table's first column under `heading` (`<name>` patterns skipped). */
function tableVariables(file: string, heading: string): string[] {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, `${file} has a "${heading}" section`).to.be.greaterThan(-1);
  const lines = text.slice(start + heading.length + 2).split('\n');
  const rows = lines.slice(lines.findIndex((l) => l.startsWith('|'))).filter((_, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('|')));
  return rows.slice(2).flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] ?? ''));
}

/** Every `env.NAME` / `env['NAME']` the sources read outside the settings table. */
function variablesReadInSource(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.tsx?$/.test(entry.name)) {
      const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
      found.push(...[...text.matchAll(/\benv\??(?:\.|\[['"])([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] ?? ''));
    }
  }
  return found.filter((name) => !OS_VARIABLES.has(name));
}

const inCode = new Set([...Object.values(SETTINGS).filter((s) => !('internal' in s && s.internal)).map((s) => s.env), ...variablesReadInSource('src')]);

describe('the environment table (docs/operations.md) and the settings in code', () => {
  it('when a variable is read by the code (SETTINGS in src/config/load-config.ts, or env.NAME anywhere in src/), then the table lists it, and it lists nothing else', () => {
    const documented = tableVariables('docs/operations.md', '## Environment');
    expect([...inCode].filter((name) => !documented.includes(name)), 'read by the code but missing from the table').to.deep.equal([]);
    expect(documented.filter((name) => !inCode.has(name)), 'in the table but read by no code').to.deep.equal([]);
    expect(new Set(documented).size, 'each variable has one row').to.equal(documented.length);
  });

  it('when docs/DESIGN.md lists environment variables, then each is one the code reads', () => {
    const contract = tableVariables('docs/DESIGN.md', '### Environment');
    expect(contract.length).to.be.greaterThan(10);
    expect(contract.filter((name) => !inCode.has(name))).to.deep.equal([]);
  });

  it('when the loader marks a setting internal, then it is the dev-token flag alone', () => {
    expect(Object.values(SETTINGS).filter((s) => 'internal' in s && s.internal).map((s) => s.env)).to.deep.equal(['CLINIC_SMS_DEV_TOKEN_IN_USE']);
  });
});
