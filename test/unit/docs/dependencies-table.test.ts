import { readFileSync } from 'node:fs';
import { expect } from 'chai';

/** The packages named in the first column of docs/development.md's Dependencies table (`dev: ` dropped). */
function tablePackages(): string[] {
  const text = readFileSync('docs/development.md', 'utf8');
  const section = text.slice(text.indexOf('\n## Dependencies\n'));
  return section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| package'))
    .flatMap((row) => (row.split('|')[1] ?? '').replace(/^\s*dev:\s*/, '').split(',').map((name) => name.trim()));
}

describe('the dependency table (docs/development.md) and package.json', () => {
  it('when package.json lists a package, then the table gives it a line on why, and the table names no package that is not installed', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const installed = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)];
    const listed = tablePackages();
    const covered = (name: string): boolean => listed.includes(name) || (name.startsWith('@types/') && listed.includes('@types/*'));
    expect(installed.filter((name) => !covered(name)), 'in package.json, missing from the table').to.deep.equal([]);
    expect(listed.filter((name) => name !== '@types/*' && !installed.includes(name)), 'in the table, not in package.json').to.deep.equal([]);
  });
});
