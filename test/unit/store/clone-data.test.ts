import { expect } from 'chai';
import { cloneData } from '../../../src/store/memory/clone-data.js';

describe('cloneData (the embedded store copy)', () => {
  it('when given a nested record, then the copy is equal and shares nothing with it', () => {
    const record = { a: 1, s: 'x', n: null, u: undefined, at: new Date(1_000), list: [{ d: new Date(2_000) }, 3], nested: { deep: { k: true } } };
    const copy = cloneData(record);
    expect(copy).to.deep.equal(record);
    expect(structuredClone(record)).to.deep.equal(copy);
    expect(copy.at).to.not.equal(record.at);
    expect(copy.list[0]).to.not.equal(record.list[0]);
    expect((copy.list[0] as { d: Date }).d).to.not.equal((record.list[0] as { d: Date }).d);
    expect(copy.nested.deep).to.not.equal(record.nested.deep);
    expect(Object.keys(copy)).to.include('u');
    (copy.nested.deep as { k: boolean }).k = false;
    copy.at.setTime(0);
    expect(record.nested.deep.k).to.equal(true);
    expect(record.at.getTime()).to.equal(1_000);
  });

  it('when an object has a __proto__ key (a form field), then it stays an own property and the prototype is untouched', () => {
    const extra = Object.create(null) as Record<string, unknown>;
    extra['__proto__'] = 'x';
    extra.polluted = 'no';
    const copy = cloneData({ extra });
    expect(Object.getPrototypeOf(copy.extra)).to.equal(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(copy.extra, '__proto__')?.value).to.equal('x');
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('when given something that is not plain data, then it throws instead of copying it wrongly', () => {
    expect(() => cloneData({ m: new Map() })).to.throw(TypeError, /Map/);
  });
});
