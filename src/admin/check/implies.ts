import { isDeepStrictEqual } from 'node:util';

/**
 * Whether one json-rules-engine condition tree implies another: whenever `b` is true,
 * `a` is too. Sound but not complete: a `true` answer is certain, a `false` one only
 * means "could not show it". Only the operators and shapes the loader accepts are known;
 * decorated operators ("everyFact:...") are compared only when written identically.
 */
export function implies(b: unknown, a: unknown): boolean {
  if (isDeepStrictEqual(strip(b), strip(a))) {
    return true;
  }
  if (!isObject(a) || !isObject(b)) {
    return false;
  }
  if (Array.isArray(a.all)) {
    return a.all.every((child) => implies(b, child));
  }
  if (Array.isArray(b.any)) {
    return b.any.length > 0 && b.any.every((branch) => implies(branch, a));
  }
  if (Array.isArray(a.any) && a.any.some((child) => implies(b, child))) {
    return true;
  }
  if (Array.isArray(b.all)) {
    return b.all.some((conjunct) => implies(conjunct, a));
  }
  if ('not' in a && 'not' in b) {
    // not x => not y exactly when y => x.
    return implies(a.not, b.not);
  }
  if (isLeaf(a) && isLeaf(b)) {
    return leafImplies(b, a);
  }
  if ('not' in a && isLeaf(b) && isObject(a.not) && isLeaf(a.not)) {
    return leafExcludes(b, a.not);
  }
  return false;
}

interface Leaf {
  fact: string;
  operator: string;
  value: unknown;
}

type Scalar = string | number | boolean;

function leafImplies(b: Leaf, a: Leaf): boolean {
  if (b.fact !== a.fact || b.operator.includes(':') || a.operator.includes(':')) {
    return false;
  }
  const finite = finiteValues(b);
  if (finite) {
    return finite.every((v) => evaluate(a, v) === true);
  }
  if (b.operator === 'contains' || b.operator === 'doesNotContain') {
    return b.operator === a.operator && isDeepStrictEqual(b.value, a.value);
  }
  if (b.operator === 'notEqual' || b.operator === 'notIn') {
    // b excludes a set; it implies a only when a excludes a subset of it.
    const excludedB = b.operator === 'notEqual' ? [b.value] : (b.value as unknown[]);
    const excludedA = a.operator === 'notEqual' ? [a.value] : a.operator === 'notIn' ? (a.value as unknown[]) : null;
    return excludedA !== null && excludedA.every((x) => excludedB.some((y) => isDeepStrictEqual(x, y)));
  }
  const rb = range(b);
  const ra = range(a);
  if (rb && ra) {
    return within(rb, ra);
  }
  return false;
}

/** True when `b` and `a` can never both be true. */
function leafExcludes(b: Leaf, a: Leaf): boolean {
  if (b.fact !== a.fact || b.operator.includes(':') || a.operator.includes(':')) {
    return false;
  }
  const finite = finiteValues(b);
  return finite !== null && finite.every((v) => evaluate(a, v) === false);
}

function finiteValues(leaf: Leaf): Scalar[] | null {
  if (leaf.operator === 'equal' && isScalar(leaf.value)) {
    return [leaf.value];
  }
  if (leaf.operator === 'in' && Array.isArray(leaf.value) && leaf.value.every(isScalar)) {
    return leaf.value as Scalar[];
  }
  return null;
}

/** json-rules-engine's operator on a fact value; null when it does not apply to scalars. */
function evaluate(leaf: Leaf, fact: Scalar): boolean | null {
  const v = leaf.value;
  switch (leaf.operator) {
    case 'equal':
      return fact === v;
    case 'notEqual':
      return fact !== v;
    case 'in':
      return Array.isArray(v) ? v.includes(fact) : null;
    case 'notIn':
      return Array.isArray(v) ? !v.includes(fact) : null;
    case 'lessThan':
      return typeof fact === 'number' && typeof v === 'number' ? fact < v : null;
    case 'lessThanInclusive':
      return typeof fact === 'number' && typeof v === 'number' ? fact <= v : null;
    case 'greaterThan':
      return typeof fact === 'number' && typeof v === 'number' ? fact > v : null;
    case 'greaterThanInclusive':
      return typeof fact === 'number' && typeof v === 'number' ? fact >= v : null;
    default:
      return null;
  }
}

interface Range {
  low: number;
  lowOpen: boolean;
  high: number;
  highOpen: boolean;
}

function range(leaf: Leaf): Range | null {
  const v = leaf.value;
  if (typeof v !== 'number') {
    return null;
  }
  switch (leaf.operator) {
    case 'greaterThan':
      return { low: v, lowOpen: true, high: Infinity, highOpen: true };
    case 'greaterThanInclusive':
      return { low: v, lowOpen: false, high: Infinity, highOpen: true };
    case 'lessThan':
      return { low: -Infinity, lowOpen: true, high: v, highOpen: true };
    case 'lessThanInclusive':
      return { low: -Infinity, lowOpen: true, high: v, highOpen: false };
    default:
      return null;
  }
}

/** Whether range `inner` lies inside `outer`. */
function within(inner: Range, outer: Range): boolean {
  const lowOk = inner.low > outer.low || (inner.low === outer.low && (!outer.lowOpen || inner.lowOpen));
  const highOk = inner.high < outer.high || (inner.high === outer.high && (!outer.highOpen || inner.highOpen));
  return lowOk && highOk;
}

function isLeaf(node: Record<string, unknown>): node is Record<string, unknown> & Leaf {
  return typeof node.fact === 'string' && typeof node.operator === 'string' && 'value' in node;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops condition `name` and `priority` (they do not change what matches). */
function strip(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(strip);
  }
  if (!isObject(node)) {
    return node;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k !== 'name' && k !== 'priority') {
      out[k] = strip(v);
    }
  }
  return out;
}
