import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import type { InboxItem, MessageRecord } from '../../../src/domain.js';
import { keepData } from '../../../src/store/memory/clone-data.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { ownString } from '../../../src/store/memory/own-string.js';
import { parseForm } from '../../../src/twilio/form-params.js';
import { toInboundMessage } from '../../../src/twilio/inbound-message.js';

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe("ownString, keepData, and what the embedded store keeps on the V8 heap", () => {
  it('when strings of every kind are owned, then each comes back equal, lone surrogates included', () => {
    for (const s of ['', 'short', 'SM0123456789abcdef0123456789abcdef', 'Sí, confirmo 👍 — café, gracias', 'broken \ud800 surrogate in a long enough string', 'x'.repeat(10_000)]) {
      expect(ownString(s)).to.equal(s);
    }
  });

  it('when data is kept, then it is a deep copy with equal strings, Dates and arrays', () => {
    const value = { id: 'SM0123456789abcdef0123456789abcdef:message', at: new Date(5), media: [{ url: 'https://example.com/a/very/long/path' }] };
    const kept = keepData(value);
    expect(kept).to.deep.equal(value);
    expect(kept.media).to.not.equal(value.media);
  });

  it('when the embedded store keeps messages cut from 1 MB request bodies, then it does not keep the bodies alive', async () => {
    const store = new MemoryStore();
    gcNow();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20; i++) {
      const sid = `SM${i.toString(16).padStart(32, '0')}`;
      const body = `MessageSid=${sid}&AccountSid=AC${'0'.repeat(32)}&From=%2B13125550001&To=%2B13125550100&Body=STOP&NumMedia=0&FromCity=${'x'.repeat(1_000_000)}`;
      const message = toInboundMessage(parseForm(body));
      const record: MessageRecord = { messageSid: message.messageSid, clinicId: 'downtown', message: { ...message, extra: {} }, receivedAt: new Date(), status: 'received', patientIds: [], rulesFired: [], actions: [], reply: null, via: 'webhook' };
      await store.claimMessage(record);
      await store.completeMessage(message.messageSid, { status: 'processed', patientIds: [], rulesFired: [], actions: [], reply: null });
      await store.setOptOut({ clinicId: 'downtown', phone: message.from, optedOut: true, changedAt: new Date(), messageSid: message.messageSid, keyword: 'STOP' });
    }
    gcNow();
    const grewMb = (process.memoryUsage().heapUsed - before) / 1e6;
    // Each MessageSid kept as a view into its body would hold 1 MB: 20 MB.
    expect(grewMb).to.be.below(5);
    expect((await store.getMessage('SM0000000000000000000000000000000f'))?.status).to.equal('processed');
  });

  it('when the embedded store keeps staff inbox items, then they are outside the V8 heap, and come back equal', async () => {
    const store = new MemoryStore();
    gcNow();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2000; i++) {
      await store.addInboxItem(inboxItem(i));
    }
    gcNow();
    const grewMb = (process.memoryUsage().heapUsed - before) / 1e6;
    // As objects the items held about 4.5 MB (2 KB of body each, as two-byte strings).
    expect(grewMb).to.be.below(1.5);
    expect(await store.listInbox('downtown')).to.deep.equal(Array.from({ length: 2000 }, (_, i) => inboxItem(i)));
  });
});

/** The i-th of the inbox items above, made afresh each time. */
function inboxItem(i: number): InboxItem {
  const sid = `SM${i.toString(16).padStart(32, '0')}`;
  return {
    id: `${sid}:message`,
    clinicId: 'downtown',
    kind: 'message',
    messageSid: sid,
    from: '+13125550001',
    patientIds: ['p-1'],
    body: `Running late ${i} ${'—'.repeat(1000)}`,
    media: [{ url: `https://api.twilio.com/media/${i}`, contentType: 'image/jpeg' }],
    createdAt: new Date(1_700_000_000_000 + i),
    status: 'open',
  };
}
