import { expect } from 'chai';
import { ESLint } from 'eslint';
import { readdir } from 'node:fs/promises';

/**
 * `npm run lint` keeps imports running one way (eslint.config.js LAYERS). Each case lints
 * text in place of a real file of src/ with the repository's own lint configuration
 * (lintText with that file's path: nothing is written, so the repository stays clean) and
 * looks for the layer rule's error.
 */
describe('imports run one way (eslint.config.js)', () => {
  // Only the layer rules run, so no type information is needed: the TypeScript project
  // service would take longer to start than every case here takes to run.
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports' || ruleId === 'no-restricted-syntax',
  });

  async function layerErrors(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    expect(result?.messages.filter((m) => m.fatal) ?? [], filePath).to.deep.equal([]);
    return (result?.messages ?? []).map((m) => m.message);
  }

  it('when a store module imports the service layer, then lint fails naming the layers', async () => {
    const errors = await layerErrors('src/store/store.ts', "import type { PipelineDeps } from '../service/handle-message.js';\nexport type X = PipelineDeps;\n");
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include('../service/handle-message.js').and.to.match(/imports run one way \(eslint\.config\.js LAYERS\): store may not import .*\bservice\b/);
  });

  it('when the upward imports the layers replaced come back (service to http, spool to service, store to import, rules to admin, domain to store), then each fails', async () => {
    const cases: Array<[string, string]> = [
      ['src/service/live-config.ts', "import type { AppDeps } from '../http/create-app.js';\nexport type X = AppDeps;\n"],
      ['src/spool/replayer.ts', "import { handleMessage } from '../service/handle-message.js';\nexport const x = handleMessage;\n"],
      ['src/store/mongo/indexes.ts', "import { importDataFile } from '../../import/import-data.js';\nexport const x = importDataFile;\n"],
      ['src/rules/evaluate.ts', "import { checkRules } from '../admin/check/check-rules.js';\nexport const x = checkRules;\n"],
      ['src/domain.ts', "import type { Store } from './store/store.js';\nexport type X = Store;\n"],
    ];
    for (const [file, code] of cases) {
      expect(await layerErrors(file, code), file).to.have.length(1);
    }
  });

  it('when an upward import is a dynamic import(), then lint fails too', async () => {
    const errors = await layerErrors('src/rules/prefilter.ts', "export const load = (): Promise<unknown> => import('../service/handle-message.js');\n");
    expect(errors).to.have.length(1);
  });

  it('when a module imports its own layer or one below it, then the layer rule is silent', async () => {
    expect(await layerErrors('src/service/live-config.ts', "import { decide } from '../rules/evaluate.js';\nimport type { Store } from '../store/store.js';\nexport const x = [decide] as unknown as Store;\n")).to.deep.equal([]);
    expect(await layerErrors('src/rules/prefilter.ts', "import { ACTIONS } from '../actions/index.js';\nimport { FACTS } from './fact-catalog.js';\nexport const x = [ACTIONS, FACTS];\n")).to.deep.equal([]);
    expect(await layerErrors('src/store/mongo/indexes.ts', "import type { Store } from '../store.js';\nexport type X = Store;\n")).to.deep.equal([]);
  });

  it('when the lint configuration is read, then every folder and root file of src/ but cli (the top layer) has the layer rule', async () => {
    const entries = await readdir('src', { withFileTypes: true });
    expect(entries.length).to.be.greaterThan(10);
    for (const entry of entries) {
      const file = entry.isDirectory() ? `src/${entry.name}/any-module.ts` : `src/${entry.name}`;
      const config = (await eslint.calculateConfigForFile(file)) as { rules: Record<string, unknown> };
      expect(config.rules['no-restricted-imports'] !== undefined, file).to.equal(entry.name !== 'cli');
    }
  });
});
