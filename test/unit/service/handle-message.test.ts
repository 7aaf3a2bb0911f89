import { expect } from 'chai';
import { loadTestConfig } from '../../../src/config/load-config.js';
import { createLogger } from '../../../src/logger.js';
import { createMetrics } from '../../../src/metrics.js';
import { buildSnapshot } from '../../../src/service/build-snapshot.js';
import { handleMessage, type PipelineDeps } from '../../../src/service/handle-message.js';
import type { Snapshot } from '../../../src/service/live-config.js';
import { parseForm } from '../../../src/twilio/form-params.js';
import { toInboundMessage } from '../../../src/twilio/inbound-message.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, addPatient, uniquePhone } from '../../support/test-app.js';
import { formEncode, inboundParams } from '../../support/twilio-sign.js';

async function setup(): Promise<{ deps: PipelineDeps; snapshot: Snapshot; store: MemoryStore }> {
  const config = loadTestConfig({ authTokens: [AUTH_TOKEN], clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: 'rules' });
  const snapshot = await buildSnapshot(config, { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN });
  const store = new MemoryStore();
  const deps: PipelineDeps = { store, logger: createLogger('silent'), metrics: createMetrics(), clock: () => new Date() };
  return { deps, snapshot, store };
}

const message = (overrides: Record<string, string>) => toInboundMessage(parseForm(formEncode(inboundParams(overrides))));

describe('handleMessage', () => {
  it('when a spooled message turns out to be finished by the webhook that gave up on it, then the record no longer claims its reply was sent', async () => {
    const { deps, snapshot, store } = await setup();
    const phone = uniquePhone();
    await addPatient(store, { phone });
    const m = message({ From: phone, Body: 'HELP' });
    const first = await handleMessage(deps, snapshot, m, 'webhook');
    expect(first.reply).to.be.a('string');

    const replay = await handleMessage(deps, snapshot, m, 'replay');

    expect(replay).to.deep.include({ status: 'duplicate', reply: null });
    const record = await store.getMessage(m.messageSid);
    expect(record).to.deep.include({ status: 'processed', reply: null, error: 'reply-not-sent' });
    expect(record?.rulesFired).to.deep.equal(['help']);
  });

  it('when a spooled message was already replayed, then replaying it again changes nothing', async () => {
    const { deps, snapshot, store } = await setup();
    const phone = uniquePhone();
    await addPatient(store, { phone });
    const m = message({ From: phone, Body: 'STOP' });
    await handleMessage(deps, snapshot, m, 'replay');
    const before = await store.getMessage(m.messageSid);

    await handleMessage(deps, snapshot, m, 'replay');

    expect(await store.getMessage(m.messageSid)).to.deep.equal(before);
    expect(before?.status).to.equal('replayed');
  });
});
