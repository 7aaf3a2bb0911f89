import type { CompiledRule } from './compile.js';
import { builtInOperator, type Compare } from './operators.js';

/**
 * What a condition tree is, given only the facts known before the engine runs: true, false,
 * or undefined when it depends on something else (a lazy fact, a fact reference as the
 * value, params or a path, a condition reference). Boolean nodes follow json-rules-engine:
 * `all` is false as soon as one part is false, `any` as soon as every part is, an empty
 * `all`/`any` is true, and `not` flips a settled result.
 * @param condition - a rule's conditions, as compiled
 * @param known - fact values known up front
 * @param extra - operators of ours (the phrase operators), by name
 */
export function knownResult(condition: unknown, known: Readonly<Record<string, unknown>>, extra: Readonly<Record<string, Compare>> = {}): boolean | undefined {
  if (typeof condition !== 'object' || condition === null) {
    return undefined;
  }
  const node = condition as Record<string, unknown>;
  if (Array.isArray(node.all)) {
    let unsettled = false;
    for (const part of node.all) {
      const r = knownResult(part, known, extra);
      if (r === false) {
        return false;
      }
      unsettled ||= r === undefined;
    }
    return unsettled ? undefined : true;
  }
  if (Array.isArray(node.any)) {
    if (node.any.length === 0) {
      return true;
    }
    let unsettled = false;
    for (const part of node.any) {
      const r = knownResult(part, known, extra);
      if (r === true) {
        return true;
      }
      unsettled ||= r === undefined;
    }
    return unsettled ? undefined : false;
  }
  if (node.not !== undefined) {
    const r = knownResult(node.not, known, extra);
    return r === undefined ? undefined : !r;
  }
  if (typeof node.fact !== 'string' || typeof node.operator !== 'string' || node.params !== undefined || node.path !== undefined) {
    return undefined;
  }
  if (!Object.hasOwn(known, node.fact)) {
    return undefined;
  }
  const value = node.value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'fact' in value) {
    return undefined;
  }
  const compare = builtInOperator(node.operator, extra);
  return compare ? compare(known[node.fact], value) : undefined;
}

/**
 * The rules worth handing to the engine, in order: those whose conditions the known facts
 * do not already make false, and none below a halting rule they make true (the engine would
 * stop before reaching them). The engine still evaluates every rule kept, so what fires is
 * decided by json-rules-engine; this only spares it rules that cannot matter.
 * @param rules - the clinic's rules, highest priority first
 * @param candidates - positions left by the keyword index, ascending
 * @param known - fact values known up front
 * @param extra - operators of ours (the phrase operators), by name
 * @returns kept positions, and those settled false
 */
export function prefilterRules(
  rules: readonly CompiledRule[],
  candidates: readonly number[],
  known: Readonly<Record<string, unknown>>,
  extra: Readonly<Record<string, Compare>> = {},
): { kept: number[]; settledFalse: number[] } {
  const kept: number[] = [];
  const settledFalse: number[] = [];
  let haltBelow = -Infinity;
  for (const i of candidates) {
    const rule = rules[i] as CompiledRule;
    if (rule.priority < haltBelow) {
      break;
    }
    const result = knownResult(rule.definition.conditions, known, extra);
    if (result === false) {
      settledFalse.push(i);
      continue;
    }
    kept.push(i);
    if (result === true && rule.halt) {
      haltBelow = rule.priority;
    }
  }
  return { kept, settledFalse };
}
