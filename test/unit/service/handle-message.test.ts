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
import { MemoryConversationStore } from '../../../src/conversations/memory-conversation-store.js';
import type { ToStaff } from '../../../src/domain.js';
import { conversationOf, notingRouting } from '../../support/conversations.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, addPatient, uniquePhone } from '../../support/test-app.js';
import { formEncode, inboundParams } from '../../support/twilio-sign.js';
import { FIXTURE_RULES_DIR } from '../../support/fixture-rules.js';

async function setup(): Promise<{ deps: PipelineDeps; snapshot: Snapshot; store: MemoryStore; conversations: MemoryConversationStore; routed: ToStaff[] }> {
  const config = loadTestConfig({ authTokens: [AUTH_TOKEN], clinicsFile: 'test/fixtures/clinics.yaml', rulesDir: FIXTURE_RULES_DIR });
  const snapshot = await buildSnapshot(config, { NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN });
  const store = new MemoryStore();
  const conversations = new MemoryConversationStore(store);
  const { staff, items } = notingRouting(conversations);
  const deps: PipelineDeps = { store, staff, logger: createLogger('silent'), metrics: createMetrics(), clock: () => new Date() };
  return { deps, snapshot, store, conversations, routed: items };
}

/** test/fixtures/clinics.yaml: downtown allows 5 messages a minute per sender. */
const DOWNTOWN_LIMIT = 5;
const UNKNOWN = "We don't recognize this phone number. Please contact our office directly.";

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

  describe('what reaches staff', () => {
    it('when an unknown number texts, then the reply stays the seed text and the message reaches its open conversation once, as unknown-number', async () => {
      const { deps, snapshot, conversations, routed } = await setup();
      const phone = uniquePhone();
      const m = message({ From: phone, Body: 'Hi, I am a new patient' });

      const result = await handleMessage(deps, snapshot, m, 'webhook');

      expect(result).to.include({ status: 'unknown-number', reply: UNKNOWN });
      expect(routed.map((r) => [r.reason, r.message.messageSid, r.patients.length])).to.deep.equal([['unknown-number', m.messageSid, 0]]);
      expect(await conversationOf(conversations, 'downtown', phone)).to.deep.include({ status: 'open', patients: [], last: { at: routed[0]!.at, direction: 'inbound', preview: 'Hi, I am a new patient' } });
    });

    it('when an unknown number sends STOP or HELP, then the keyword is answered and nothing reaches staff', async () => {
      const { deps, snapshot, conversations, routed } = await setup();
      const phone = uniquePhone();

      await handleMessage(deps, snapshot, message({ From: phone, Body: 'HELP' }), 'webhook');
      await handleMessage(deps, snapshot, message({ From: phone, Body: 'STOP' }), 'webhook');

      expect(routed).to.deep.equal([]);
      expect(await conversationOf(conversations, 'downtown', phone)).to.equal(null);
    });

    it('when a known patient goes over the rate limit, then each extra message reaches the conversation as over-limit with no reply', async () => {
      const { deps, snapshot, routed } = await setup();
      const phone = uniquePhone();
      await addPatient(deps.store, { phone });
      for (let i = 0; i < DOWNTOWN_LIMIT; i += 1) {
        await handleMessage(deps, snapshot, message({ From: phone, Body: `question ${i}` }), 'webhook');
      }
      const over = [message({ From: phone, Body: 'one more' }), message({ From: phone, Body: 'and another' })];

      const results = [];
      for (const m of over) {
        results.push(await handleMessage(deps, snapshot, m, 'webhook'));
      }

      expect(results.map((r) => [r.status, r.reply])).to.deep.equal([['rate-limited', null], ['rate-limited', null]]);
      expect(routed.slice(DOWNTOWN_LIMIT).map((r) => [r.reason, r.message.messageSid])).to.deep.equal(over.map((m) => ['over-limit', m.messageSid]));
    });

    it('when a known patient sends CONFIRM or HELP, then nothing reaches staff', async () => {
      const { deps, snapshot, routed } = await setup();
      const phone = uniquePhone();
      await addPatient(deps.store, { phone }, [{ startsAt: new Date(Date.now() + 86_400_000) }]);

      await handleMessage(deps, snapshot, message({ From: phone, Body: 'CONFIRM' }), 'webhook');
      await handleMessage(deps, snapshot, message({ From: phone, Body: 'HELP' }), 'webhook');

      expect(routed).to.deep.equal([]);
    });
  });
});
