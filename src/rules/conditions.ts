import { FACTS, FACT_NAMES, OPERATORS, OPERATOR_DECORATORS, isFactName, type FactSpec, type FactType } from './fact-catalog.js';
import { normalizeText } from './normalize.js';
import { PHRASE_OPERATORS, isPhraseOperator } from './phrases.js';
import { didYouMean } from './suggest.js';
import { formatPath, type JsonPath } from '../config/yaml-source.js';

/** A problem in a condition tree, located by JSON path (the caller turns it into file:line:col). */
export interface ConditionProblem {
  path: JsonPath;
  message: string;
  key?: boolean;
}

/** A `message.command` value a rule compares against: checked later against the merged keywords. */
export interface CommandRef {
  path: JsonPath;
  value: string;
}

export interface ConditionAnalysis {
  problems: ConditionProblem[];
  commandRefs: CommandRef[];
  /** Phrase list names `containsPhraseFrom` conditions use: checked later against the merged lists. */
  phraseRefs: CommandRef[];
  /**
   * Keyword index keys ("command:STOP", "keyword:CANCEL") of which the message must
   * have at least one for the conditions to be true; null when there is no such set
   * (the rule must always be run).
   */
  requires: string[] | null;
  facts: string[];
}

const BOOLEAN_KEYS = ['all', 'any', 'not'] as const;
const LEAF_KEYS = new Set(['fact', 'operator', 'value', 'name', 'priority']);
const OPERATOR_SET: ReadonlySet<string> = new Set([...OPERATORS, ...PHRASE_OPERATORS]);
/** The facts a phrase operator works on: the whole message, normalized. */
const PHRASE_FACTS: ReadonlySet<string> = new Set(['message.text']);
const DECORATOR_SET: ReadonlySet<string> = new Set(OPERATOR_DECORATORS);

/**
 * Walks json-rules-engine conditions: checks every fact, operator and value against
 * the fact catalog, rejects what would let a rule author reach code or data we do not
 * document (`path`, fact `params`, condition references, fact-valued comparisons), and
 * works out which keywords the conditions require (the keyword index).
 * @param conditions - the rule's `conditions` value
 * @param base - its JSON path in the file, for problem locations
 */
export function analyzeConditions(conditions: unknown, base: JsonPath): ConditionAnalysis {
  const analysis: ConditionAnalysis = { problems: [], commandRefs: [], phraseRefs: [], requires: null, facts: [] };
  if (!isObject(conditions) || !BOOLEAN_KEYS.some((k) => k in conditions)) {
    analysis.problems.push({ path: base, message: `${formatPath(base)}: the top level must be "all", "any" or "not"` });
    return analysis;
  }
  const requires = walk(conditions, base, analysis);
  analysis.requires = requires ? [...requires].sort() : null;
  return analysis;
}

function walk(node: unknown, path: JsonPath, out: ConditionAnalysis): Set<string> | null {
  const where = formatPath(path);
  if (!isObject(node)) {
    out.problems.push({ path, message: `${where}: expected a condition (fact, operator, value) or all/any/not` });
    return null;
  }
  const booleans = BOOLEAN_KEYS.filter((k) => k in node);
  if (booleans.length > 1) {
    out.problems.push({ path, message: `${where}: use only one of all, any, not in one condition` });
    return null;
  }
  const op = booleans[0];
  if (op) {
    for (const key of Object.keys(node)) {
      if (key !== op && key !== 'name' && key !== 'priority') {
        out.problems.push({ path: [...path, key], key: true, message: `${where}: unexpected field "${key}" next to "${op}"` });
      }
    }
    checkPriority(node, path, out);
    const children = node[op];
    if (op === 'not') {
      if (Array.isArray(children)) {
        out.problems.push({ path: [...path, op], message: `${where}.not: takes one condition, not a list` });
        return null;
      }
      walk(children, [...path, op], out);
      return null;
    }
    if (!Array.isArray(children)) {
      out.problems.push({ path: [...path, op], message: `${where}.${op}: expected a list of conditions` });
      return null;
    }
    if (children.length === 0) {
      out.problems.push({ path: [...path, op], message: `${where}.${op}: the list is empty` });
      return null;
    }
    const sets = children.map((c, i) => walk(c, [...path, op, i], out));
    if (op === 'all') {
      // The rule needs every child: any one child's requirement is a sound one; take the narrowest.
      const known = sets.filter((s): s is Set<string> => s !== null);
      return known.length === 0 ? null : known.reduce((a, b) => (b.size < a.size ? b : a));
    }
    // any: only when every branch requires some keyword.
    if (sets.some((s) => s === null)) {
      return null;
    }
    return new Set(sets.flatMap((s) => [...(s as Set<string>)]));
  }
  return leaf(node, path, out);
}

function leaf(node: Record<string, unknown>, path: JsonPath, out: ConditionAnalysis): Set<string> | null {
  const where = formatPath(path);
  const problem = (message: string, at: JsonPath = path, key = false): null => {
    out.problems.push({ path: at, message: `${where}: ${message}`, key });
    return null;
  };
  if ('condition' in node) {
    return problem('shared condition references are not supported: write the condition out', [...path, 'condition'], true);
  }
  for (const key of Object.keys(node)) {
    if (key === 'path') {
      problem('"path" expressions are not allowed: every fact is a plain value, see rules/README.md', [...path, key], true);
    } else if (key === 'params') {
      problem('fact "params" are not supported', [...path, key], true);
    } else if (!LEAF_KEYS.has(key)) {
      problem(`unknown field "${key}" (a condition has fact, operator, value)`, [...path, key], true);
    }
  }
  checkPriority(node, path, out);
  for (const required of ['fact', 'operator', 'value'] as const) {
    if (!(required in node)) {
      problem(`missing "${required}"`);
    }
  }
  const { fact, operator, value } = node;
  if (typeof fact !== 'string') {
    return 'fact' in node ? problem('"fact" must be a fact name', [...path, 'fact']) : null;
  }
  if (!isFactName(fact)) {
    return problem(`unknown fact "${fact}"${didYouMean(fact, FACT_NAMES)} (see rules/README.md for the list)`, [...path, 'fact']);
  }
  out.facts.push(fact);
  if (typeof operator !== 'string') {
    return 'operator' in node ? problem('"operator" must be an operator name', [...path, 'operator']) : null;
  }
  const parts = operator.split(':');
  const base = parts[parts.length - 1] ?? '';
  const decorators = parts.slice(0, -1);
  const badDecorator = decorators.find((d) => !DECORATOR_SET.has(d));
  if (!OPERATOR_SET.has(base) || badDecorator !== undefined) {
    const all = [...OPERATORS, ...PHRASE_OPERATORS];
    return problem(
      `unknown operator "${operator}"${didYouMean(badDecorator ?? base, badDecorator === undefined ? all : OPERATOR_DECORATORS)} (operators: ${all.join(', ')}; decorators: ${OPERATOR_DECORATORS.join(', ')})`,
      [...path, 'operator'],
    );
  }
  if (!('value' in node)) {
    return null;
  }
  if (isPhraseOperator(base)) {
    return phraseLeaf(fact, base, value, path, problem, out);
  }
  if (isObject(value)) {
    return problem('"value" must be a plain value or a list; comparing with another fact is not supported', [...path, 'value']);
  }
  const spec: FactSpec = FACTS[fact];
  if (decorators.length > 0) {
    // Decorated operators reshape both sides; only names are checked.
    return null;
  }
  const typeProblem = checkValueType(spec.type, base, value);
  if (typeProblem) {
    return problem(`${fact} ${operator}: ${typeProblem}`, [...path, 'value']);
  }
  const values = Array.isArray(value) ? value : [value];
  if (spec.normalized) {
    values.forEach((v, i) => {
      const at = Array.isArray(value) ? [...path, 'value', i] : [...path, 'value'];
      if (typeof v === 'string' && v !== normalizeText(v)) {
        problem(`"${v}" can never match: ${fact} is upper-case without accents or punctuation, write "${normalizeText(v)}"`, at);
      } else if (typeof v === 'string' && (fact === 'message.keyword' || fact === 'message.command') && v.includes(' ')) {
        problem(`"${v}" can never match: ${fact} is a single word`, at);
      } else if (typeof v === 'string' && fact === 'message.words' && v.includes(' ')) {
        problem(`"${v}" can never match: message.words holds single words; for words in a row write { fact: message.text, operator: containsPhrase, value: "${v.toLowerCase()}" }`, at);
      }
    });
  }
  if (fact === 'time.date') {
    values.forEach((v, i) => {
      if (typeof v === 'string' && !/^\d{4}-\d{2}-\d{2}$/.test(v)) {
        problem(`"${v}" can never match: time.date is written YYYY-MM-DD (e.g. 2026-12-24)`, Array.isArray(value) ? [...path, 'value', i] : [...path, 'value']);
      }
    });
  }
  if (fact === 'message.command') {
    values.forEach((v, i) => {
      if (typeof v === 'string' && v !== '') {
        out.commandRefs.push({ path: Array.isArray(value) ? [...path, 'value', i] : [...path, 'value'], value: v });
      }
    });
  }
  if ((fact === 'message.command' || fact === 'message.keyword') && (base === 'equal' || base === 'in')) {
    const kind = fact === 'message.command' ? 'command' : 'keyword';
    const wanted = values.filter((v): v is string => typeof v === 'string' && v !== '');
    // `equal ""` matches messages without a keyword: not indexable.
    return wanted.length === values.length ? new Set(wanted.map((v) => `${kind}:${v}`)) : null;
  }
  return null;
}

/**
 * A `containsPhrase` / `containsPhraseFrom` condition: the fact is the normalized message,
 * the value phrases (written any way: they are normalized when compiled) or list names.
 */
function phraseLeaf(
  fact: string,
  operator: string,
  value: unknown,
  path: JsonPath,
  problem: (message: string, at?: JsonPath) => null,
  out: ConditionAnalysis,
): null {
  if (!PHRASE_FACTS.has(fact)) {
    return problem(`${operator} works on message.text (the whole message, normalized), not on ${fact}`, [...path, 'fact']);
  }
  const values = Array.isArray(value) ? value : [value];
  const at = (i: number): JsonPath => (Array.isArray(value) ? [...path, 'value', i] : [...path, 'value']);
  const what = operator === 'containsPhrase' ? 'a phrase or a list of phrases' : 'a phrase list name (a key of phrases:) or a list of them';
  if (values.length === 0 || values.some((v) => typeof v !== 'string')) {
    return problem(`${fact} ${operator}: expected ${what}`, [...path, 'value']);
  }
  values.forEach((v: string, i) => {
    if (operator === 'containsPhrase' && normalizeText(v) === '') {
      problem(`"${v}" has no letters or digits: it can never match`, at(i));
    } else if (operator === 'containsPhraseFrom') {
      out.phraseRefs.push({ path: at(i), value: v });
    }
  });
  return null;
}

function checkPriority(node: Record<string, unknown>, path: JsonPath, out: ConditionAnalysis): void {
  if ('priority' in node && !(Number.isInteger(node.priority) && (node.priority as number) >= 1)) {
    out.problems.push({ path: [...path, 'priority'], message: `${formatPath(path)}.priority: must be a whole number of at least 1` });
  }
}

function checkValueType(type: FactType, operator: string, value: unknown): string | null {
  const scalar = type === 'string[]' ? 'string' : type;
  const isScalarOf = (v: unknown): boolean => typeof v === scalar;
  switch (operator) {
    case 'equal':
    case 'notEqual':
      if (type === 'string[]') {
        return 'this fact is a list: use contains or doesNotContain';
      }
      return isScalarOf(value) ? null : `expected a ${type} value`;
    case 'in':
    case 'notIn':
      if (type === 'string[]') {
        return 'this fact is a list: use contains or doesNotContain';
      }
      return Array.isArray(value) && value.length > 0 && value.every(isScalarOf) ? null : `expected a non-empty list of ${type} values`;
    case 'contains':
    case 'doesNotContain':
      if (type !== 'string[]') {
        return 'contains works on list facts only (message.words, message.mediaTypes, patients.firstNames, clinic.languages)';
      }
      return typeof value === 'string' ? null : 'expected a string value';
    default:
      if (type !== 'number') {
        return `${operator} works on number facts only`;
      }
      return typeof value === 'number' ? null : 'expected a number value';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
