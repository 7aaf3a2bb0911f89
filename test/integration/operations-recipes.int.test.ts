import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { runTry } from '../../scripts/try.js';
import { runCli } from '../../src/cli/index.js';
import { startService, type RunningService } from '../../src/main.js';
import { freshDbName, getTestMongo, uriWithDb } from '../support/mongo.js';

/** The shell block of a section of docs/operations.md, as lines (comments after `#` dropped, blank lines skipped). */
function recipe(heading: string): string[] {
  const readme = readFileSync('docs/operations.md', 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trim())
    .filter((l) => l !== '');
}

/** `A=1 B=2` as an object. */
const assignments = (text: string): Record<string, string> => Object.fromEntries(text.split(/\s+/).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));

/**
 * docs/operations.md "Trying production mode locally", run line by line as written: `npm run db` is the
 * test's own database (the same launcher), every `export` is the environment of what follows,
 * `npx clinic-sms …` runs the bin's command, the service line starts the service, and each
 * `npm run try -- …` runs try against it.
 */
describe('operations recipes (docs/operations.md): trying production mode locally', function () {
  this.timeout(60_000);
  let dir: string;
  let service: RunningService | null = null;
  let dbUri = '';

  before(async function () {
    if (!(await getTestMongo())) {
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'readme-recipe-'));
  });

  after(async () => {
    await service?.stop();
    if (dbUri) {
      const client = new MongoClient(dbUri);
      await client.db().dropDatabase().catch(() => undefined);
      await client.close();
    }
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when its lines are run as written, then the demo data is imported with relative dates and CONFIRM from Ben is confirmed by a production service', async () => {
    const lines = recipe('## Trying production mode locally');
    expect(lines[0]).to.equal('npm run db');
    const env: Record<string, string> = {};
    const outputs: string[] = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith('export ')) {
        Object.assign(env, assignments(line.slice('export '.length)));
        if (env.MONGODB_URI?.startsWith('mongodb://127.0.0.1:27018/')) {
          // What `npm run db` printed for this run: the test database, under a fresh name.
          dbUri = uriWithDb((await getTestMongo())!.uri, freshDbName('readme'));
          env.MONGODB_URI = dbUri;
        }
      } else if (line.startsWith('npx clinic-sms ')) {
        const out: string[] = [];
        const code = await runCli(line.slice('npx clinic-sms '.length).split(/\s+/), { env: { ...env }, cwd: process.cwd(), out: (l) => out.push(l), err: (l) => out.push(l) });
        expect(code, `${line}\n${out.join('\n')}`).to.equal(0);
        outputs.push(...out);
      } else if (line.startsWith('node --import=tsx src/main.ts')) {
        service = await startService({ ...env, PORT: '0', HOST: '127.0.0.1', SPOOL_DIR: join(dir, 'spool'), LOG_LEVEL: 'silent', WATCH_RULES: 'off' });
        expect(service.config.nodeEnv).to.equal('production');
      } else if (line.startsWith('npm run try -- ')) {
        const port = (service!.server.address() as AddressInfo).port;
        const out: string[] = [];
        const args = [...line.slice('npm run try -- '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
        const code = await runTry(args, { env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, out: (t) => out.push(t), err: (t) => out.push(t) });
        expect(code, out.join('\n')).to.equal(0);
        outputs.push(...out);
      } else {
        expect.fail(`a line the test does not know how to run: ${line}`);
      }
    }
    expect(outputs.join('\n')).to.include('appointments: ').and.match(/<Message>Thank you\. Ben's appointment on .* is confirmed\.<\/Message>/);
  });
});
