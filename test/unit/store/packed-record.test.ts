import { expect } from 'chai';
import type { MessageRecord } from '../../../src/domain.js';
import { packRecord, unpackRecord } from '../../../src/store/memory/packed-record.js';
import { aMessage } from '../../contract/store-fixtures.js';

describe('packed audit records (the embedded store)', () => {
  it('when a finished record is packed, then it unpacks equal, its Dates as Dates', () => {
    const record: MessageRecord = {
      ...aMessage({ clinicId: 'c1' }),
      status: 'processed',
      completedAt: new Date('2026-11-27T10:00:00.456Z'),
      lastDuplicateAt: new Date(8.64e15),
      duplicateDeliveries: 2,
      actions: [{ type: 'confirm-appointment', outcome: 'confirmed', ruleName: 'confirm', detail: { n: 1, ok: true, none: null } }],
      reply: 'Ana María 😀 "quoted" \\ back',
      timings: { totalMs: 0.12 },
    };
    const back = unpackRecord<MessageRecord>(packRecord(record));
    expect(back).to.deep.equal(record);
    expect(back.receivedAt).to.be.instanceOf(Date);
    expect(back.lastDuplicateAt?.getTime()).to.equal(8.64e15);
  });

  it('when a form field is called $date, then it stays a string field and is never read as a Date', () => {
    const record = aMessage({ clinicId: 'c1' });
    record.message.extra = { $date: '1700000000000', $other: '1' };
    expect(unpackRecord<MessageRecord>(packRecord(record)).message.extra).to.deep.equal({ $date: '1700000000000', $other: '1' });
    const spoof = unpackRecord<{ x: unknown }>('{"x":{"$date":5,"y":1}}');
    expect(spoof.x).to.deep.equal({ $date: 5, y: 1 });
  });

  it('when a field is undefined, then it is left out, as the MongoDB adapter leaves it out', () => {
    const record = { ...aMessage({ clinicId: 'c1' }), error: undefined };
    expect(Object.keys(unpackRecord<MessageRecord>(packRecord(record)))).to.not.include('error');
  });
});
