import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { runTry } from '../../scripts/try.js';
import { startLocalTwilio, type LocalTwilio } from '../../scripts/twilio-local.js';
import { DEMO_KEY } from '../../src/auth/api-keys-file.js';
import { runCli } from '../../src/cli/index.js';
import { startService, type RunningService } from '../../src/main.js';
import { freshDbName, getTestMongo, uriWithDb } from '../support/mongo.js';

/** The shell block of a section of a docs/ page, as lines (comments after `#` dropped, blank lines skipped). */
function recipe(page: string, heading: string): string[] {
  const readme = readFileSync(page, 'utf8');
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
    const lines = recipe('docs/operations.md', '## Trying production mode locally');
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

/**
 * docs/staff-api.md "Trying a staff reply locally", run line by line as written: `npm run twilio:local` is the
 * stand-in (on a free port instead of 3010, substituted where the recipe names it), the `npm start`
 * line starts the development service with the variables it sets, each `npm run try -- …` runs
 * try against it, and `cv_…` is the id the `--list` line printed, as a person would copy it.
 */
describe('staff API recipes (docs/staff-api.md): trying a staff reply locally', function () {
  this.timeout(30_000);
  let dir: string;
  let service: RunningService | null = null;
  let local: LocalTwilio | null = null;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'readme-reply-'));
  });

  after(async () => {
    await service?.stop();
    await local?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('when its lines are run as written, then the stand-in receives the reply to the number that texted and the thread shows it delivered', async () => {
    const lines = recipe('docs/staff-api.md', '## Trying a staff reply locally');
    expect(lines[0]).to.equal('npm run twilio:local');
    const printed: string[] = [];
    local = await startLocalTwilio({ port: 0, out: (l) => printed.push(l), callbackDelayMs: 10 });
    const localPort = new URL(local.baseUrl).port;
    const outputs: string[] = [];
    let conversationId = '';
    for (const line of lines.slice(1).map((l) => l.replaceAll('127.0.0.1:3010', `127.0.0.1:${localPort}`))) {
      if (line.endsWith(' npm start')) {
        const env = assignments(line.slice(0, -' npm start'.length));
        service = await startService({ ...env, PORT: '0', HOST: '127.0.0.1', SPOOL_DIR: join(dir, 'spool'), LOG_LEVEL: 'silent', WATCH_RULES: 'off' });
        expect(service.config.nodeEnv).to.not.equal('production');
      } else if (line.startsWith('npm run try -- ')) {
        const port = (service!.server.address() as AddressInfo).port;
        const out: string[] = [];
        const args = [...line.replace('cv_…', conversationId).slice('npm run try -- '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
        const code = await runTry(args, { env: { PORT: String(port), HOST: '127.0.0.1' }, out: (t) => out.push(t), err: (t) => out.push(t) });
        expect(code, `${line}\n${out.join('\n')}`).to.equal(0);
        if (args.includes('--list')) {
          const listed = JSON.parse(out.join('\n').replace(/^\d{3} [^\n]*\n/, '')) as { conversations: Array<{ id: string; phone: string }> };
          conversationId = listed.conversations.find((c) => c.phone === '+13125550199')?.id ?? '';
          expect(conversationId, out.join('\n')).to.match(/^cv_/);
        }
        outputs.push(...out);
      } else {
        expect.fail(`a line the test does not know how to run: ${line}`);
      }
    }
    await local.settled();
    expect(printed.join('\n')).to.match(/to \+13125550199 from \+13125550100: We will call you today/);
    expect(printed.join('\n')).to.include('delivered: status callback answered 204');
    const port = (service!.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/v1/clinics/downtown/conversations/${conversationId}`, { headers: { Authorization: `Bearer ${DEMO_KEY}` } });
    const thread = (await res.json()) as { entries: Array<{ type: string; text: string; deliveryStatus?: string }> };
    expect(thread.entries.find((e) => e.type === 'outbound')).to.include({ text: 'We will call you today', deliveryStatus: 'delivered' });
  });
});
