import { expect } from 'chai';
import { implies } from '../../../../src/admin/check/implies.js';

const leaf = (fact: string, operator: string, value: unknown): Record<string, unknown> => ({ fact, operator, value });

describe('condition implication (unreachable rules)', () => {
  it('when the narrower rule adds conditions to the same keyword, then it implies the wider one', () => {
    const wide = { all: [leaf('message.command', 'equal', 'CONFIRM')] };
    const narrow = { all: [leaf('message.command', 'equal', 'CONFIRM'), leaf('patients.known', 'equal', true)] };
    expect(implies(narrow, wide)).to.equal(true);
    expect(implies(wide, narrow)).to.equal(false);
  });

  it('when values are a subset (equal x vs in [x, y]), then it implies; the other way round it does not', () => {
    expect(implies(leaf('message.command', 'equal', 'YES'), leaf('message.command', 'in', ['YES', 'CONFIRM']))).to.equal(true);
    expect(implies(leaf('message.command', 'in', ['YES', 'CONFIRM']), leaf('message.command', 'equal', 'YES'))).to.equal(false);
    expect(implies(leaf('message.command', 'in', ['A']), leaf('message.command', 'notIn', ['B']))).to.equal(true);
  });

  it('when number ranges nest, then the inner implies the outer', () => {
    expect(implies(leaf('time.hour', 'greaterThan', 21), leaf('time.hour', 'greaterThanInclusive', 18))).to.equal(true);
    expect(implies(leaf('time.hour', 'greaterThanInclusive', 18), leaf('time.hour', 'greaterThan', 18))).to.equal(false);
    expect(implies(leaf('time.hour', 'lessThan', 8), leaf('time.hour', 'lessThanInclusive', 8))).to.equal(true);
    expect(implies(leaf('time.hour', 'equal', 22), leaf('time.hour', 'greaterThan', 21))).to.equal(true);
  });

  it('when the wider rule is an any, then one implied branch is enough', () => {
    const wide = { any: [leaf('message.command', 'equal', 'STOP'), leaf('message.keyword', 'equal', 'CANCEL')] };
    expect(implies({ all: [leaf('message.command', 'equal', 'STOP')] }, wide)).to.equal(true);
    expect(implies({ all: [leaf('message.command', 'equal', 'HELP')] }, wide)).to.equal(false);
  });

  it('when the narrower rule is an any, then every branch must imply', () => {
    const narrow = { any: [leaf('message.command', 'equal', 'A'), leaf('message.command', 'equal', 'B')] };
    expect(implies(narrow, leaf('message.command', 'in', ['A', 'B']))).to.equal(true);
    expect(implies(narrow, leaf('message.command', 'equal', 'A'))).to.equal(false);
  });

  it('when conditions are on different facts or use decorated operators, then nothing is implied', () => {
    expect(implies(leaf('message.keyword', 'equal', 'STOP'), leaf('message.command', 'equal', 'STOP'))).to.equal(false);
    expect(implies(leaf('message.words', 'everyFact:equal', 'X'), leaf('message.words', 'contains', 'X'))).to.equal(false);
  });

  it('when a not is compared, then contraposition and exclusion are used', () => {
    expect(implies({ not: leaf('time.hour', 'greaterThan', 10) }, { not: leaf('time.hour', 'greaterThan', 12) })).to.equal(true);
    expect(implies(leaf('sender.optedOut', 'equal', false), { not: leaf('sender.optedOut', 'equal', true) })).to.equal(true);
  });
});
