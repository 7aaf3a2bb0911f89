import { expect } from 'chai';
import { Engine } from 'json-rules-engine';
import { builtInOperator } from '../../../src/rules/operators.js';
import { OPERATORS, OPERATOR_DECORATORS } from '../../../src/rules/fact-catalog.js';

/** What json-rules-engine itself says of `fact <operator> value`, through its public API. */
async function engineSays(operator: string, factValue: unknown, value: unknown): Promise<boolean | 'throws'> {
  const engine = new Engine([{ conditions: { all: [{ fact: 'f', operator, value }] }, event: { type: 'hit' } }]);
  try {
    const { events } = await engine.run({ f: factValue });
    return events.length === 1;
  } catch {
    return 'throws';
  }
}

function tableSays(operator: string, factValue: unknown, value: unknown): boolean | 'throws' | undefined {
  const compare = builtInOperator(operator);
  if (!compare) {
    return undefined;
  }
  try {
    // A copy, as the engine's Rule copies its conditions: no fact value is ever the condition's own object.
    return compare(factValue, structuredClone(value));
  } catch {
    return 'throws';
  }
}

const VALUES: unknown[] = [0, 3, 7, '3', 'a', 'abc', '', true, false, null, [], ['a', 3], [3, 7], ['x']];

describe('the prefilter\'s operator table', () => {
  it('when every built-in operator, alone and under every decorator, meets a grid of values, then it answers as json-rules-engine does', async () => {
    const names = [...OPERATORS, ...OPERATOR_DECORATORS.flatMap((d) => OPERATORS.map((o) => `${d}:${o}`)), 'not:someFact:equal', 'everyValue:not:in', 'swap:contains'];
    let compared = 0;
    for (const name of names) {
      for (const factValue of VALUES) {
        for (const value of VALUES) {
          const expected = await engineSays(name, factValue, value);
          expect(tableSays(name, factValue, value), `${JSON.stringify(factValue)} ${name} ${JSON.stringify(value)}`).to.equal(expected);
          compared += 1;
        }
      }
    }
    expect(compared).to.equal(names.length * VALUES.length * VALUES.length);
  });

  it('when an operator or decorator name is unknown (or an Object.prototype key), then the table has no answer', () => {
    for (const name of ['nope', 'constructor', 'toString', 'nope:equal', 'constructor:equal', 'not:nope', 'equal:not']) {
      expect(builtInOperator(name), name).to.equal(undefined);
    }
  });
});
