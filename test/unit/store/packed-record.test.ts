import { expect } from 'chai';
import { packRecord, unpackRecord } from '../../../src/store/memory/packed-record.js';

describe('packed audit records (the embedded store)', () => {
  it('when a record with Dates at any depth is packed, then it unpacks equal, Dates as Dates', () => {
    const record = {
      messageSid: 'SM1',
      receivedAt: new Date('2026-11-27T10:00:00.123Z'),
      actions: [{ type: 'confirm-appointment', detail: { n: 1, ok: true, none: null } }],
      nested: { at: [new Date(0), new Date(8.64e15)] },
      message: { body: 'Ana María 😀 "quoted" \\ back', extra: { $date: 'not a date', $other: '1' } },
    };
    const back = unpackRecord<typeof record>(packRecord(record));
    expect(back).to.deep.equal(record);
    expect(back.receivedAt).to.be.instanceOf(Date);
    expect(back.nested.at[1]?.getTime()).to.equal(8.64e15);
  });

  it('when a form field is called $date, then it stays a string field and is never read as a Date', () => {
    const back = unpackRecord<{ extra: Record<string, unknown> }>(packRecord({ extra: { $date: '1700000000000' } }));
    expect(back.extra).to.deep.equal({ $date: '1700000000000' });
    const spoof = unpackRecord<{ x: unknown }>('{"x":{"$date":5,"y":1}}');
    expect(spoof.x).to.deep.equal({ $date: 5, y: 1 });
  });

  it('when a field is undefined, then it is left out, as the MongoDB adapter leaves it out', () => {
    expect(unpackRecord(packRecord({ a: 1, b: undefined }))).to.deep.equal({ a: 1 });
  });
});
