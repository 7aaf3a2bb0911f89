import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import type { MessageRecord } from '../../../src/domain.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { parseForm } from '../../../src/twilio/form-params.js';
import { toInboundMessage } from '../../../src/twilio/inbound-message.js';
import { aMessage } from '../../contract/store-fixtures.js';

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('MemoryStore copies', () => {
  it('when a form field is called __proto__, then it comes back as an own field and no prototype changes', async () => {
    const store = new MemoryStore();
    const record = aMessage({ clinicId: 'downtown' });
    const extra = Object.create(null) as Record<string, string>;
    extra['__proto__'] = 'x';
    extra.polluted = 'no';
    record.message.extra = extra;
    await store.claimMessage(record);
    const back = (await store.getMessage(record.messageSid)) as MessageRecord;
    expect(Object.getPrototypeOf(back.message.extra)).to.equal(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back.message.extra, '__proto__')?.value).to.equal('x');
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('when messages cut from 1 MB request bodies are kept, then the bodies are not kept alive', async () => {
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
});
