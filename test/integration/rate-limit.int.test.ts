import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import type { MessageRecord } from '../../src/domain.js';
import { conversationOf } from '../support/conversations.js';
import { WEBHOOK_PATH, addPatient, closingTestApps, inboundParams, signedRequest, uniquePhone, type TestApp } from '../support/test-app.js';

const EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
/** test/fixtures/clinics.yaml: downtown allows 5 messages a minute per sender. */
const DOWNTOWN_LIMIT = 5;

function post(t: TestApp, params: Record<string, string>): request.Test {
  const { body, signature } = signedRequest(params);
  return request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
}

async function recordsOf(t: TestApp, phone: string, clinicId = 'downtown'): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  for await (const r of t.store.listMessages({ clinicId, since: new Date(0), until: new Date(Date.now() + 3_600_000) })) {
    if (r.message.from === phone) {
      out.push(r);
    }
  }
  return out;
}

describe('rate limit per clinic and sender', () => {
  const buildTestApp = closingTestApps();
  it('when a sender goes over the clinic limit, then the extra messages get an empty <Response/> (never a 429), a rate-limited record, a metric, and reach staff one by one', async () => {
    const t = await buildTestApp();
    const phone = uniquePhone();
    await addPatient(t.store, { phone });

    const replies = [];
    for (let i = 0; i < DOWNTOWN_LIMIT + 3; i += 1) {
      replies.push(await post(t, inboundParams({ From: phone, Body: `question ${i}` })));
    }

    expect(replies.map((r) => r.status)).to.deep.equal(Array(DOWNTOWN_LIMIT + 3).fill(200));
    expect(replies.slice(0, DOWNTOWN_LIMIT).every((r) => r.text.includes('<Message>'))).to.equal(true);
    expect(replies.slice(DOWNTOWN_LIMIT).map((r) => r.text)).to.deep.equal([EMPTY, EMPTY, EMPTY]);
    const records = await recordsOf(t, phone);
    expect(records.map((r) => r.status)).to.deep.equal([...Array(DOWNTOWN_LIMIT).fill('processed'), 'rate-limited', 'rate-limited', 'rate-limited']);
    const limited = records.filter((r) => r.status === 'rate-limited');
    expect(limited.every((r) => r.reply === null && r.actions.length === 0 && r.completedAt instanceof Date)).to.equal(true);
    // Staff see every message, the unanswered ones too: one routing each, in one conversation.
    expect(t.routed.filter((r) => r.message.from === phone).map((r) => r.reason)).to.deep.equal([...Array(DOWNTOWN_LIMIT).fill('message'), 'over-limit', 'over-limit', 'over-limit']);
    const conversation = await conversationOf(t.conversations, 'downtown', phone);
    expect(conversation).to.deep.include({ status: 'open' });
    expect(conversation?.last.preview).to.equal(`question ${DOWNTOWN_LIMIT + 2}`);
    expect((await t.conversations.inboundMessages('downtown', phone, 50)).map((r) => r.status)).to.deep.equal(records.map((r) => r.status));
    expect(await t.metrics.registry.getSingleMetricAsString('sms_rate_limited_total')).to.contain('sms_rate_limited_total{clinic="downtown"} 3');
    expect(await t.metrics.registry.getSingleMetricAsString('sms_webhook_requests_total')).to.contain('{outcome="rate-limited"} 3');
  });

  it('when STOP, HELP and START arrive inside a flood, then they are honoured, answered and recorded as processed', async () => {
    const t = await buildTestApp();
    const phone = uniquePhone();
    await addPatient(t.store, { phone });
    for (let i = 0; i < DOWNTOWN_LIMIT + 2; i += 1) {
      await post(t, inboundParams({ From: phone, Body: `spam ${i}` }));
    }

    const stop = inboundParams({ From: phone, Body: 'STOP' });
    const stopReply = await post(t, stop);
    const afterStop = await post(t, inboundParams({ From: phone, Body: 'more spam' }));
    const help = await post(t, inboundParams({ From: phone, Body: 'HELP' }));
    const start = inboundParams({ From: phone, Body: 'START' });
    const startReply = await post(t, start);

    expect(stopReply.status).to.equal(200);
    expect(stopReply.text).to.contain('You are unsubscribed');
    expect(afterStop.text).to.equal(EMPTY);
    expect(help.text).to.contain('appointment texts');
    expect(startReply.text).to.contain('subscribed to appointment texts again');
    expect((await t.store.getMessage(stop.MessageSid as string))?.status).to.equal('processed');
    expect((await t.store.getMessage(stop.MessageSid as string))?.actions.map((a) => a.type)).to.deep.equal(['opt-out']);
    expect(await t.store.getOptOut('downtown', phone)).to.include({ optedOut: false, messageSid: start.MessageSid });
  });

  it('when a flood arrives all at once with a STOP in the middle, then no more than the limit is answered and the STOP is still honoured', async () => {
    const t = await buildTestApp();
    const server: Server = createServer(t.app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const phone = uniquePhone();
      await addPatient(t.store, { phone });
      const flood = Array.from({ length: 20 }, (_, i) => inboundParams({ From: phone, Body: i === 10 ? 'STOP' : `loop ${i}` }));
      const replies = await Promise.all(
        flood.map((params) => {
          const { body, signature } = signedRequest(params);
          return request(server).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
        }),
      );

      expect(replies.every((r) => r.status === 200)).to.equal(true);
      const stopReply = replies[10];
      expect(stopReply?.text).to.contain('You are unsubscribed');
      const records = await recordsOf(t, phone);
      expect(records).to.have.length(20);
      const limited = records.filter((r) => r.status === 'rate-limited').length;
      // All 20 count; the first `limit` counted are answered, whichever they are, and STOP always is.
      const answeredOthers = records.filter((r) => r.status === 'processed' && r.message.body !== 'STOP').length;
      expect(answeredOthers).to.be.oneOf([DOWNTOWN_LIMIT - 1, DOWNTOWN_LIMIT]);
      expect(limited).to.equal(19 - answeredOthers);
      expect(replies.filter((r) => r.text === EMPTY)).to.have.length(limited);
      expect((await t.store.getOptOut('downtown', phone))?.optedOut).to.equal(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('when the next minute starts, then the sender is answered again; other senders were never affected', async () => {
    let now = new Date('2026-05-04T15:00:10Z');
    const t = await buildTestApp({ clock: () => now });
    const phone = uniquePhone();
    const bystander = uniquePhone();
    await addPatient(t.store, { phone });
    await addPatient(t.store, { phone: bystander });
    for (let i = 0; i < DOWNTOWN_LIMIT; i += 1) {
      await post(t, inboundParams({ From: phone, Body: `hi ${i}` }));
    }
    expect((await post(t, inboundParams({ From: phone, Body: 'over' }))).text).to.equal(EMPTY);
    expect((await post(t, inboundParams({ From: bystander, Body: 'hello' }))).text).to.contain('<Message>');

    now = new Date('2026-05-04T15:01:00Z');
    expect((await post(t, inboundParams({ From: phone, Body: 'new minute' }))).text).to.contain('<Message>');
  });

  it('when a clinic sets no limit of its own, then the default of 10 a minute applies', async () => {
    const t = await buildTestApp();
    const phone = uniquePhone();
    const replies = [];
    for (let i = 0; i < 11; i += 1) {
      const { body, signature } = signedRequest(inboundParams({ From: phone, To: '+13125550300', Body: `q ${i}` }), { token: 'northside-token-fedcba9876543210' });
      replies.push(await request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body));
    }
    // An unknown number: the unknown-number text goes out once a day (sender.recentReplies), so
    // the rules answer the first and handle the next nine; the eleventh is over the limit.
    expect(replies[0]?.text).to.include('<Message>');
    expect(replies[10]?.text).to.equal(EMPTY);
    const records = await recordsOf(t, phone, 'northside');
    expect(records.filter((r) => r.status === 'rate-limited')).to.have.length(1);
    expect(records.filter((r) => r.rulesFired.includes('unknown-number-quiet'))).to.have.length(9);
  });
});
