import { Engine, type RuleProperties, type RuleResult } from 'json-rules-engine';
import { CONSENT_ACTIONS } from '../actions/consent.js';
import type { ActionParams } from '../actions/index.js';
import type { CompiledRules, CompiledRule } from './compile.js';
import { APPOINTMENT_FACTS, UPCOMING_FACTS, createMessageContext, type EvaluationInput, type MessageContext } from './message-facts.js';
import type { Compare } from './operators.js';
import { phraseOperators } from './phrases.js';
import { prefilterRules } from './prefilter.js';
import type { ReplySpec } from './rules-file.js';

export type { EvaluationInput, MessageContext } from './message-facts.js';

export interface FiredEvent {
  ruleName: string;
  priority: number;
  /** The action. */
  type: string;
  /** The rule's reply template, or templates by the action's outcome. */
  reply: ReplySpec | null;
  /** The event's other parameters, for the action. */
  params: Readonly<ActionParams>;
}

export interface RuleReport {
  name: string;
  priority: number;
  matched: boolean;
  /**
   * Why a rule was not evaluated: its keywords are not in the message, the message's known
   * facts already make it false (prefilter), or a higher-priority rule halted.
   */
  skipped?: 'keyword-index' | 'known-facts' | 'halted';
  /** json-rules-engine's condition results (fact values and each condition's result); with decide()'s explain only. */
  conditions?: unknown;
}

export interface Decision {
  /** Highest priority first; rules below a halting rule never fire. */
  events: FiredEvent[];
  /** Every rule of the clinic, in priority order. */
  ruleResults: RuleReport[];
  /** The facts computed for this message (appointment facts only when a rule asked for them). */
  facts: Record<string, unknown>;
  /** Names of the rules handed to the engine (after the keyword index). */
  evaluated: string[];
  /** The message's facts and its appointment look-up, which the actions and the reply share. */
  context: MessageContext;
}

/** How decide() runs. */
export interface DecideOptions {
  /**
   * Report every rule the keyword index leaves, with json-rules-engine's condition results
   * (rules simulate). Off on the message path: rules the known facts already settle are not
   * handed to the engine, and no condition results are copied out.
   */
  explain?: boolean;
}

/**
 * Decides what one message does, writing nothing: the keyword index leaves out rules whose
 * keywords the message lacks, the prefilter (unless explaining) those the message's known
 * facts make false or a halting rule makes unreachable, and new json-rules-engine Engines
 * evaluate the rest, in two passes:
 *
 * 1. the consent rules (those whose action is in CONSENT_ACTIONS: opt-out, opt-in), in an
 *    engine of their own, so that no other rule's `halt` can keep a STOP from opting out
 *    (issue 30: an emergency rule at priority 200 swallowed "Stop texting me");
 * 2. every other rule, in priority order with halting as usual, except those below a
 *    consent rule that fired and halts: a consent rule still stops lower priorities.
 *
 * @param rules - the clinic's compiled rules
 * @param input - the message and what is known about its sender
 * @param options - explain: every candidate rule is evaluated and reported with its conditions
 */
export async function decide(rules: CompiledRules, input: EvaluationInput, options: DecideOptions = {}): Promise<Decision> {
  const explain = options.explain === true;
  const context = createMessageContext(rules, input);
  const indexed = selectRules(rules, context);
  const isConsent = (i: number): boolean => CONSENT_ACTIONS.has((rules.rules[i] as CompiledRule).action);
  const consent = await runPass(rules, indexed.filter(isConsent), context, input, explain);
  // A consent rule that fired and halts stops the ordinary rules of lower priority, as before.
  let haltedBelow = -Infinity;
  for (const i of consent.kept) {
    const rule = rules.rules[i] as CompiledRule;
    if (rule.halt && consent.results.get(rule.name)?.result === true) {
      haltedBelow = Math.max(haltedBelow, rule.priority);
    }
  }
  const ordinary = await runPass(
    rules,
    indexed.filter((i) => !isConsent(i) && (rules.rules[i] as CompiledRule).priority >= haltedBelow),
    context,
    input,
    explain,
  );
  const results = new Map([...consent.results, ...ordinary.results]);
  const indexedSet = new Set(indexed);
  const settledSet = new Set([...consent.settledFalse, ...ordinary.settledFalse]);
  const events: FiredEvent[] = [];
  const ruleResults = rules.rules.map((rule, i): RuleReport => {
    const result = results.get(rule.name);
    if (!result) {
      const skipped = settledSet.has(i) ? 'known-facts' : indexedSet.has(i) ? 'halted' : 'keyword-index';
      return { name: rule.name, priority: rule.priority, matched: false, skipped };
    }
    const matched = result.result === true;
    if (matched) {
      events.push({ ruleName: rule.name, priority: rule.priority, type: rule.action, reply: rule.reply, params: rule.params });
    }
    return explain ? { name: rule.name, priority: rule.priority, matched, conditions: result.toJSON(false).conditions } : { name: rule.name, priority: rule.priority, matched };
  });
  const evaluated = [...consent.kept, ...ordinary.kept].sort((a, b) => a - b).map((i) => (rules.rules[i] as CompiledRule).name);
  return { events, ruleResults, facts: factsOf(context, input), evaluated, context };
}

/** One pass of decide(): the prefilter (unless explaining), then an engine over what is left. */
async function runPass(
  rules: CompiledRules,
  candidates: readonly number[],
  context: MessageContext,
  input: EvaluationInput,
  explain: boolean,
): Promise<{ kept: readonly number[]; settledFalse: readonly number[]; results: Map<string, RuleResult> }> {
  const { kept, settledFalse } = explain ? { kept: candidates, settledFalse: [] } : prefilterRules(rules.rules, candidates, context.facts, operatorsOf(rules));
  const results = kept.length === 0 ? new Map<string, RuleResult>() : await runEngine(rules, kept, context, input);
  return { kept, settledFalse, results };
}

/**
 * Runs `positions`' rules in an Engine of the message's own (an Engine's run status is
 * shared by overlapping run() calls, which loses lower-priority events), with the facts
 * those rules name, and returns what run() reports for each rule it evaluated.
 */
async function runEngine(rules: CompiledRules, positions: readonly number[], context: MessageContext, input: EvaluationInput): Promise<Map<string, RuleResult>> {
  const engine = new Engine([], { allowUndefinedFacts: false, allowUndefinedConditions: false, replaceFactsInEventParams: false });
  for (const [name, compare] of Object.entries(operatorsOf(rules))) {
    engine.addOperator(name, compare);
  }
  const halting = new Set<string>();
  const factNames = new Set<string>();
  for (const i of positions) {
    const rule = rules.rules[i] as CompiledRule;
    // The definitions are deep-frozen and json-rules-engine copies what it needs: no clone.
    engine.addRule(rule.definition as RuleProperties);
    rule.facts.forEach((name) => factNames.add(name));
    if (rule.halt) {
      halting.add(rule.name);
    }
  }
  engine.on('success', (_event, _almanac, result: RuleResult) => {
    if (halting.has(result.name)) {
      engine.stop();
    }
  });
  // Uncached: each value is known already (json-rules-engine would hash a cache key per read),
  // and the message context caches the appointment look-up itself.
  const known = context.facts as Record<string, unknown>;
  for (const name of factNames) {
    if (Object.hasOwn(known, name)) {
      engine.addFact(name, known[name], { cache: false });
    } else if (Object.hasOwn(APPOINTMENT_FACTS, name)) {
      const compute = APPOINTMENT_FACTS[name as keyof typeof APPOINTMENT_FACTS] as (typeof APPOINTMENT_FACTS)[keyof typeof APPOINTMENT_FACTS];
      engine.addFact(name, async () => compute(await context.nextAppointment(), input), { cache: false });
    } else if (Object.hasOwn(UPCOMING_FACTS, name)) {
      const compute = UPCOMING_FACTS[name as keyof typeof UPCOMING_FACTS] as (typeof UPCOMING_FACTS)[keyof typeof UPCOMING_FACTS];
      engine.addFact(name, async () => compute(await context.upcoming()), { cache: false });
    }
  }
  const run = await engine.run();
  return new Map([...run.results, ...run.failureResults].map((r) => [r.name, r]));
}

const OPERATORS_BY_RULES = new WeakMap<CompiledRules, Readonly<Record<string, Compare>>>();

/** The phrase operators over the clinic's phrase lists (made once per compiled rules). */
function operatorsOf(rules: CompiledRules): Readonly<Record<string, Compare>> {
  let operators = OPERATORS_BY_RULES.get(rules);
  if (!operators) {
    operators = phraseOperators(rules.phraseLists);
    OPERATORS_BY_RULES.set(rules, operators);
  }
  return operators;
}

/** Rule positions to hand to the engine: those the message's keyword can satisfy, and those without a keyword condition. */
function selectRules(rules: CompiledRules, context: MessageContext): number[] {
  const chosen = new Set<number>(rules.index.always);
  for (const key of [`command:${context.command}`, `keyword:${context.keyword}`]) {
    for (const i of rules.index.byKey.get(key) ?? []) {
      chosen.add(i);
    }
  }
  return [...chosen].sort((a, b) => a - b);
}

/** The message's facts, with the appointment facts when a rule looked the appointment up. */
function factsOf(context: MessageContext, input: EvaluationInput): Record<string, unknown> {
  const facts: Record<string, unknown> = { ...context.facts };
  const appointment = context.peekAppointment();
  if (appointment !== undefined) {
    for (const [name, compute] of Object.entries(APPOINTMENT_FACTS)) {
      facts[name] = compute(appointment, input);
    }
  }
  const upcoming = context.peekUpcoming();
  if (upcoming !== undefined) {
    for (const [name, compute] of Object.entries(UPCOMING_FACTS)) {
      facts[name] = compute(upcoming);
    }
  }
  return facts;
}
