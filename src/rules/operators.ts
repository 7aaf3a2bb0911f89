/**
 * json-rules-engine's documented built-in operators and decorators, as plain functions, so
 * that the prefilter can settle a condition on known facts without an Engine. Each mirrors
 * the library's definition (engine-default-operators.js and
 * engine-default-operator-decorators.js): a fact value the operator's validator refuses
 * makes the condition false. A test compares this table with json-rules-engine itself.
 */

export type Compare = (factValue: unknown, jsonValue: unknown) => boolean;

const isNumber = (v: unknown): boolean => Number.parseFloat(v as string).toString() !== 'NaN';
const asList = (v: unknown): unknown[] => v as unknown[];

/** An operator: the fact-value validator, then the comparison. */
const operator =
  (compare: Compare, valid: (factValue: unknown) => boolean = () => true): Compare =>
  (a, b) =>
    valid(a) && compare(a, b);

const OPERATORS: Readonly<Record<string, Compare>> = {
  equal: operator((a, b) => a === b),
  notEqual: operator((a, b) => a !== b),
  in: operator((a, b) => asList(b).indexOf(a) > -1),
  notIn: operator((a, b) => asList(b).indexOf(a) === -1),
  contains: operator((a, b) => asList(a).indexOf(b) > -1, Array.isArray),
  doesNotContain: operator((a, b) => asList(a).indexOf(b) === -1, Array.isArray),
  lessThan: operator((a, b) => (a as number) < (b as number), isNumber),
  lessThanInclusive: operator((a, b) => (a as number) <= (b as number), isNumber),
  greaterThan: operator((a, b) => (a as number) > (b as number), isNumber),
  greaterThanInclusive: operator((a, b) => (a as number) >= (b as number), isNumber),
};

type Decorator = (next: Compare) => Compare;

const DECORATORS: Readonly<Record<string, Decorator>> = {
  someFact: (next) => operator((a, b) => asList(a).some((fv) => next(fv, b)), Array.isArray),
  someValue: (next) => (a, b) => asList(b).some((jv) => next(a, jv)),
  everyFact: (next) => operator((a, b) => asList(a).every((fv) => next(fv, b)), Array.isArray),
  everyValue: (next) => (a, b) => asList(b).every((jv) => next(a, jv)),
  swap: (next) => (a, b) => next(b, a),
  not: (next) => (a, b) => !next(a, b),
};

/**
 * The comparison named `name` ("lessThan", "not:in", "someFact:equal", ...): decorators
 * wrap the operator after them, as json-rules-engine reads the name. Undefined for a name
 * it does not know.
 * @param extra - operators of ours the engine is given too (the phrase operators), by name
 */
export function builtInOperator(name: string, extra: Readonly<Record<string, Compare>> = {}): Compare | undefined {
  const parts = name.split(':');
  const base = parts.pop() ?? '';
  let compare = Object.hasOwn(OPERATORS, base) ? OPERATORS[base] : Object.hasOwn(extra, base) ? extra[base] : undefined;
  for (let i = parts.length - 1; i >= 0 && compare; i -= 1) {
    const decorator = parts[i] ?? '';
    compare = Object.hasOwn(DECORATORS, decorator) ? (DECORATORS[decorator] as Decorator)(compare) : undefined;
  }
  return compare;
}
