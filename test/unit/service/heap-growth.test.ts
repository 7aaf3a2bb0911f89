import { expect } from 'chai';
import { setHeapGrowth } from '../../../src/service/heap-growth.js';

describe('setHeapGrowth', () => {
  it('when given a percent, then V8 gets it as --heap-growing-percent', () => {
    const set: string[] = [];
    setHeapGrowth(300, (flags) => set.push(flags));
    setHeapGrowth(0, (flags) => set.push(flags));
    expect(set).to.deep.equal(['--heap-growing-percent=300', '--heap-growing-percent=0']);
  });

  it('when V8 itself takes the flag, then it accepts it in a running process (0: back to its own heuristics)', () => {
    expect(() => setHeapGrowth(0)).not.to.throw();
  });
});
