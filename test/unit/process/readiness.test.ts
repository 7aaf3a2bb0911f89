import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadTestConfig } from '../../../src/config/load-config.js';
import { AppError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { createMetrics } from '../../../src/metrics.js';
import { buildSnapshot, buildTolerantSnapshot } from '../../../src/service/build-snapshot.js';
import { LiveConfig } from '../../../src/service/live-config.js';
import { createReadiness, type Lifecycle, type ReadinessDeps } from '../../../src/process/readiness.js';
import { Spool } from '../../../src/spool/spool.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { parseForm } from '../../../src/twilio/form-params.js';
import { toInboundMessage } from '../../../src/twilio/inbound-message.js';
import { formEncode, inboundParams } from '../../support/twilio-sign.js';
import { FIXTURE_RULES_DIR } from '../../support/fixture-rules.js';

class DownStore extends MemoryStore {
  override async ping(): Promise<void> {
    throw new AppError('STORE_UNAVAILABLE', 'down');
  }
}

const config = loadTestConfig({ clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: 'test/fixtures/rules/good' });
const env = { NORTHSIDE_AUTH_TOKEN: 'northside-token' };

describe('readiness', () => {
  let dir: string;
  let spool: Spool;
  let live: LiveConfig;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-readiness-'));
    spool = await Spool.open({ dir: path.join(dir, 'spool'), logger: createLogger('silent') });
    live = new LiveConfig(await buildSnapshot(config, env));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const check = (deps: Partial<ReadinessDeps> = {}): ReturnType<ReturnType<typeof createReadiness>> =>
    createReadiness({ store: new MemoryStore(), live, metrics: createMetrics(), spool, ...deps })();

  it('when the store answers and the spool is writable, then it is ready and not degraded', async () => {
    const report = await check();
    expect(report).to.deep.include({ status: 'ok', ready: true, reasons: [], degraded: [] });
    expect(report.details).to.deep.include({ store: 'ok', spool: { depth: 0, writable: true }, lifecycle: 'serving' });
  });

  it('when the store is down but the spool is writable, then it is ready and degraded, naming the store', async () => {
    const metrics = createMetrics();
    const report = await check({ store: new DownStore(), metrics });
    expect(report).to.deep.include({ status: 'degraded', ready: true, reasons: [], degraded: ['store unreachable: messages go to the spool'] });
    expect(await metrics.registry.getSingleMetricAsString('sms_store_up')).to.match(/^sms_store_up 0$/m);
  });

  it('when the store is down and the spool cannot be written, then it is not ready', async () => {
    await fs.rm(path.join(dir, 'spool'), { recursive: true });
    const report = await check({ store: new DownStore() });
    expect(report).to.deep.include({ status: 'unavailable', ready: false, reasons: ['store unreachable and spool not writable'] });
  });

  it('when the store answers but the spool cannot be written, then it is ready and degraded: the next outage would lose messages', async () => {
    await fs.rm(path.join(dir, 'spool'), { recursive: true });
    const report = await check();
    expect(report).to.deep.include({ ready: true, degraded: ['spool not writable: a database outage would lose messages'] });
  });

  it('when messages wait in the spool, then it is degraded with their number', async () => {
    await spool.append(toInboundMessage(parseForm(formEncode(inboundParams()))), new Date());
    const report = await check();
    expect(report.ready).to.equal(true);
    expect(report.degraded).to.deep.equal(['1 message waiting in the spool']);
    expect(report.details.spoolDepth).to.equal(1);
  });

  for (const [phase, reason] of [
    ['starting', 'start-up has not finished'],
    ['stopping', 'shutting down'],
  ] as Array<[Lifecycle, string]>) {
    it(`when the instance is ${phase}, then it is not ready however healthy the rest is`, async () => {
      const report = await check({ lifecycle: () => phase });
      expect(report).to.deep.include({ status: 'unavailable', ready: false, reasons: [reason] });
    });
  }

  it('when a clinic is broken, then it is ready and degraded, naming the clinic and its findings', async () => {
    const clinicsFile = path.join(dir, 'clinics.yaml');
    await fs.writeFile(clinicsFile, (await fs.readFile('test/fixtures/clinics.yaml', 'utf8')).replace('timezone: America/Chicago\n    authTokenEnv', 'timezone: Nowhere/Land\n    authTokenEnv'));
    const { snapshot } = await buildTolerantSnapshot({ ...config, clinicsFile }, env);
    const report = await check({ live: new LiveConfig(snapshot) });
    expect(report.ready).to.equal(true);
    expect(report.degraded).to.deep.equal(['clinic not served (configuration invalid): northside']);
    expect(report.details.brokenClinics).to.have.keys(['northside']);
  });

  it('when a feature check reports, then its details and degradations join the report, and a check that throws degrades without a 503', async () => {
    const report = await check({
      checks: [
        { name: 'events', check: () => ({ details: { events: { oldestPendingAgeMs: 90_000 } }, degraded: ['oldest pending event is 90 s old'] }) },
        {
          name: 'media',
          check: () => {
            throw new Error('boom');
          },
        },
      ],
    });
    expect(report).to.deep.include({ ready: true, degraded: ['oldest pending event is 90 s old', 'media: check failed (boom)'] });
    expect(report.details.events).to.deep.equal({ oldestPendingAgeMs: 90_000 });
  });

  it('when two instances run the same rules, then their rules_loaded_version is equal, and it differs when one runs other rules', async () => {
    const a = await check();
    const b = await check({ live: new LiveConfig(await buildSnapshot(config, env)) });
    const other = await check({ live: new LiveConfig(await buildSnapshot({ ...config, rulesDir: FIXTURE_RULES_DIR }, env)) });
    expect(a.details.rules_loaded_version).to.match(/^[0-9a-f]{16}$/);
    expect(b.details.rules_loaded_version).to.equal(a.details.rules_loaded_version);
    expect(other.details.rules_loaded_version).to.not.equal(a.details.rules_loaded_version);
  });
});
