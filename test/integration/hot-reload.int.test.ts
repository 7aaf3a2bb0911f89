import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../src/logger.js';
import { FileWatcher, type Reloader } from '../../src/config/file-watch.js';
import { rulesFiles, type ReloadResult } from '../../src/process/rules-reload.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, WEBHOOK_PATH, closingTestApps, inboundParams, signedRequest, uniquePhone, type TestApp } from '../support/test-app.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';

const SEED_UNKNOWN = "We don't recognize this phone number. Please contact our office directly.";
const DOWNTOWN = '+13125550100';
const NORTHSIDE = '+13125550300';

/** Writes a file the way many editors save: a new file renamed over the old one. */
function saveByRename(path: string, text: string): void {
  writeFileSync(`${path}.tmp~`, text);
  renameSync(`${path}.tmp~`, path);
}

function overrideUnknown(text: string): string {
  return `version: 1\ntemplates:\n  unknown-number: "${text}"\n`;
}

describe('rules hot reload', function () {
  const buildTestApp = closingTestApps();
  this.timeout(30_000);
  let dir: string;
  let t: TestApp;
  let server: Server;
  let base: string;
  let files: FileWatcher;
  let watcher: Reloader<ReloadResult>;
  let results: ReloadResult[];
  let waiters: Array<(r: ReloadResult) => void>;

  const nextReload = (): Promise<ReloadResult> => new Promise((resolve) => waiters.push(resolve));

  async function send(to: string): Promise<{ status: number; text: string }> {
    const params = inboundParams({ From: uniquePhone(), To: to, Body: 'hello there' });
    const { body, signature } = signedRequest(params, { token: to === NORTHSIDE ? NORTHSIDE_TOKEN : AUTH_TOKEN });
    const res = await fetch(`${base}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body,
    });
    return { status: res.status, text: await res.text() };
  }

  const replyOf = (xml: string): string => /<Message>([^<]*)<\/Message>/.exec(xml)?.[1]?.replace(/&apos;/g, "'") ?? '';

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hot-reload-'));
    cpSync(FIXTURE_RULES_DIR, join(dir, 'rules'), { recursive: true, filter: (src) => !src.includes(`${join(FIXTURE_RULES_DIR, 'tests')}`) });
    cpSync('test/fixtures/clinics.yaml', join(dir, 'clinics.yaml'));
    t = await buildTestApp({ config: { rulesDir: join(dir, 'rules'), clinicsFile: join(dir, 'clinics.yaml') } });
    results = [];
    waiters = [];
    files = new FileWatcher({ logger: createLogger('info', t.logs), watch: true, debounceMs: 50, pollMs: 0 });
    watcher = files.add(
      rulesFiles({ config: t.config, env: t.env, live: t.live, logger: createLogger('info', t.logs), metrics: t.metrics }, (r) => {
        results.push(r);
        waiters.splice(0).forEach((w) => w(r));
      }),
    );
    files.start();
    server = createServer(t.app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await files.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a clinic file changes while requests flow, then no request fails and the new reply is live as soon as the file is saved', async () => {
    const file = join(dir, 'rules', 'clinics', 'downtown.yaml');
    const original = readFileSync(file, 'utf8');
    let running = true;
    const replies: Array<{ status: number; text: string }> = [];
    const load = Array.from({ length: 4 }, async () => {
      while (running) {
        replies.push(await send(DOWNTOWN));
      }
    });
    await new Promise((r) => setTimeout(r, 100));
    const reloaded = nextReload();
    const savedAt = performance.now();
    saveByRename(file, original.replace(/templates:\n/, 'templates:\n  unknown-number: "Downtown does not know this number yet."\n'));
    const result = await reloaded;
    const latencyMs = performance.now() - savedAt;
    const after = await send(DOWNTOWN);
    running = false;
    await Promise.all(load);

    expect(result.status).to.equal('ok');
    expect(result.status === 'ok' && result.changed).to.deep.equal(['downtown']);
    expect(replyOf(after.text)).to.equal('Downtown does not know this number yet.');
    expect(replies.length).to.be.greaterThan(10);
    for (const r of replies) {
      expect(r.status).to.equal(200);
      expect([SEED_UNKNOWN, 'Downtown does not know this number yet.']).to.include(replyOf(r.text));
    }
    if (process.env.SHOW_RELOAD_LATENCY) { process.stderr.write(`reload latency ${latencyMs.toFixed(1)} ms (reload itself ${result.ms} ms), ${replies.length} requests\n`); }
    expect(latencyMs, 'save-to-live latency').to.be.below(2000);
    expect(t.logs.text()).to.include('rules reloaded');
  });

  it('when a clinic file is saved invalid, then it never becomes live, other clinics still get their changes, and /readyz and metrics say why', async () => {
    const downtownFile = join(dir, 'rules', 'clinics', 'downtown.yaml');
    const versionBefore = t.live.snapshot().rules.get('downtown')?.version;
    let running = true;
    const replies: Array<{ status: number; text: string }> = [];
    const load = (async () => {
      while (running) {
        replies.push(await send(DOWNTOWN));
      }
    })();
    const reloaded = nextReload();
    // Both in one quiet period: one reload sees both.
    writeFileSync(downtownFile, 'version: 1\ntemplates:\n  unknown-number: "Hi {{patient.nickname}}"\n');
    writeFileSync(join(dir, 'rules', 'clinics', 'northside.yaml'), overrideUnknown('Northside: unknown number.'));
    const result = await reloaded;
    running = false;
    await load;

    expect(result.status).to.equal('partial');
    if (result.status !== 'partial') {
      return;
    }
    expect(result.kept).to.deep.equal(['downtown']);
    expect(result.changed).to.deep.equal(['northside']);
    expect(result.findings[0]?.file).to.equal(downtownFile);
    expect(t.live.snapshot().rules.get('downtown')?.version).to.equal(versionBefore);
    expect(replyOf((await send(NORTHSIDE)).text)).to.equal('Northside: unknown number.');
    expect(replyOf((await send(DOWNTOWN)).text)).to.equal(SEED_UNKNOWN);
    expect(replies.every((r) => r.status === 200 && replyOf(r.text) === SEED_UNKNOWN)).to.equal(true);

    const ready = await fetch(`${base}/readyz`);
    const report = (await ready.json()) as { details: { rulesReloadError?: { findings: string[] } } };
    expect(ready.status).to.equal(200);
    expect(report.details.rulesReloadError?.findings[0]).to.match(new RegExp(`^${downtownFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:23: templates.unknown-number: unknown merge field "\\{\\{patient.nickname\\}\\}"`));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.match(/^rules_reload_errors_total 1$/m);
    expect(metrics).to.match(new RegExp(`^rules_loaded_version\\{clinic="downtown",version="${versionBefore ?? ''}"\\} 1$`, 'm'));
    const logged = t.logs.records().filter((r) => typeof r.file === 'string');
    expect(logged.map((r) => `${String(r.file)}:${String(r.line)}`)).to.include(`${downtownFile}:3`);

    // The fix is picked up as soon as it is saved.
    const fixed = nextReload();
    saveByRename(downtownFile, overrideUnknown('Downtown, fixed.'));
    const again = await fixed;
    expect(again.status).to.equal('ok');
    expect(replyOf((await send(DOWNTOWN)).text)).to.equal('Downtown, fixed.');
    const readyAfter = (await (await fetch(`${base}/readyz`)).json()) as { details: Record<string, unknown> };
    expect(readyAfter.details.rulesReloadError).to.equal(undefined);
  });

  it('when rules/default.yaml or the clinics file is broken, then every clinic keeps its rules', async () => {
    const defaultFile = join(dir, 'rules', 'default.yaml');
    const original = readFileSync(defaultFile, 'utf8');
    const before = t.live.snapshot();
    let reloaded = nextReload();
    writeFileSync(join(dir, 'rules', 'clinics', 'northside.yaml'), overrideUnknown('Northside: unknown number.'));
    saveByRename(defaultFile, original.replace('type: opt-out', 'type: opt-out-please'));
    const refused = await reloaded;
    expect(refused.status).to.equal('refused');
    expect(t.live.snapshot()).to.equal(before);
    expect(refused.status === 'refused' && refused.findings.map((f) => f.message).join('\n')).to.include('unknown action "opt-out-please"');
    expect(replyOf((await send(NORTHSIDE)).text)).to.equal(SEED_UNKNOWN);

    reloaded = nextReload();
    saveByRename(defaultFile, original);
    expect((await reloaded).status).to.equal('ok');
    expect(replyOf((await send(NORTHSIDE)).text)).to.equal('Northside: unknown number.');

    const afterFix = t.live.snapshot();
    reloaded = nextReload();
    saveByRename(join(dir, 'clinics.yaml'), 'clinics:\n  - id: downtown\n    name: Downtown\n');
    const clinicsRefused = await reloaded;
    expect(clinicsRefused.status).to.equal('refused');
    expect(clinicsRefused.status === 'refused' && clinicsRefused.findings[0]?.file).to.equal(join(dir, 'clinics.yaml'));
    expect(t.live.snapshot()).to.equal(afterFix);
    expect((await send(DOWNTOWN)).status).to.equal(200);
  });

  it('when a broken clinic file is reverted to the rules that stayed live, then one line says its rules are live again, and rulesLoadedAt moves only when rules load', async () => {
    const file = join(dir, 'rules', 'clinics', 'downtown.yaml');
    const original = readFileSync(file, 'utf8');
    const loadedAt = async (): Promise<string> => ((await (await fetch(`${base}/readyz`)).json()) as { details: { rulesLoadedAt: string } }).details.rulesLoadedAt;
    const start = await loadedAt();

    // Nothing changed on disk: nothing loads.
    expect((await watcher.reload('test')).status).to.equal('ok');
    expect(await loadedAt()).to.equal(start);

    let reloaded = nextReload();
    writeFileSync(file, 'version: 1\ntemplates:\n  unknown-number: "Hi {{patient.nickname}}"\n');
    expect((await reloaded).status).to.equal('partial');
    expect(await loadedAt(), 'a refused clinic file loads nothing').to.equal(start);

    reloaded = nextReload();
    saveByRename(file, original);
    const fixed = await reloaded;
    expect(fixed).to.deep.include({ status: 'ok', changed: [] });
    const lines = t.logs.records().filter((r) => typeof r.msg === 'string' && r.msg.startsWith('rules reloaded'));
    // Its last good rules stayed live all along: "fixed", not "live again" (it never went down).
    expect(lines.map((r) => r.msg)).to.deep.equal(['rules reloaded: fixed for downtown (the last good rules had stayed live)']);
    expect(lines[0]?.clinics).to.deep.equal(['downtown']);
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { degraded: string[]; details: Record<string, unknown> };
    expect(ready.degraded).to.deep.equal([]);
    expect(ready.details.rulesReloadError).to.equal(undefined);
  });

  it('when rules/default.yaml and a clinic file are both broken, then the refused reload reports every finding of both at once', async () => {
    const defaultFile = join(dir, 'rules', 'default.yaml');
    const clinicFile = join(dir, 'rules', 'clinics', 'downtown.yaml');
    const reloaded = nextReload();
    writeFileSync(clinicFile, 'version: 1\ntemplates:\n  unknown-number: "Hi {{patient.nickname}}"\n');
    saveByRename(defaultFile, readFileSync(defaultFile, 'utf8').replace('type: opt-out', 'type: opt-out-please'));
    const refused = await reloaded;
    expect(refused.status).to.equal('refused');
    const findings = refused.status === 'refused' ? refused.findings : [];
    expect(findings.map((f) => f.file)).to.include.members([defaultFile, clinicFile]);
    expect(findings.map((f) => f.message).join('\n')).to.include('unknown action "opt-out-please"').and.include('{{patient.nickname}}');
  });

  it('when SIGHUP arrives, then the files are reloaded even without watching', async () => {
    await files.stop();
    const signals = new EventEmitter();
    const sighup = new FileWatcher({ logger: createLogger('silent'), watch: false, signals: signals as unknown as Pick<NodeJS.Process, 'on' | 'off'> });
    const handle = sighup.add(rulesFiles({ config: t.config, env: t.env, live: t.live, logger: createLogger('silent'), metrics: t.metrics }));
    sighup.start();
    writeFileSync(join(dir, 'rules', 'clinics', 'northside.yaml'), overrideUnknown('Northside after SIGHUP.'));
    await new Promise((r) => setTimeout(r, 200));
    expect(replyOf((await send(NORTHSIDE)).text)).to.equal(SEED_UNKNOWN);
    signals.emit('SIGHUP');
    const result = await handle.reload('test');
    expect(result.status).to.equal('ok');
    expect(replyOf((await send(NORTHSIDE)).text)).to.equal('Northside after SIGHUP.');
    await sighup.stop();
    expect(signals.listenerCount('SIGHUP')).to.equal(0);
  });
});
