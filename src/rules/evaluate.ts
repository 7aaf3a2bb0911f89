import { Engine, Fact, type RuleProperties, type RuleResult } from 'json-rules-engine';
import { getAction, type ActionResult } from '../actions/index.js';
import type { ActionRecord, Appointment, Clinic, InboundMessage, Patient } from '../domain.js';
import { AppError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { CompiledRules, CompiledRule, CompiledTemplate } from './compile.js';
import { formatAppointmentDate, formatAppointmentTime } from './local-time.js';
import { APPOINTMENT_FACTS, createMessageContext, type MessageContext } from './message-facts.js';
import { prefilterRules } from './prefilter.js';
import { renderTemplate, type MergeField, type ParsedTemplate } from './templates.js';

export interface EvaluationInput {
  clinic: Clinic;
  message: InboundMessage;
  patients: Patient[];
  /** The sender's opt-out state before this message. */
  optedOut: boolean;
  now: Date;
  store: Store;
}

export interface FiredEvent {
  ruleName: string;
  priority: number;
  /** The action. */
  type: string;
  params: Record<string, unknown>;
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
}

export interface Outcome {
  rulesFired: string[];
  actions: ActionRecord[];
  reply: string | null;
}

/** Actions processed even when the sender is rate-limited: consent and HELP must always work. */
export const ALWAYS_PROCESSED_ACTIONS: ReadonlySet<string> = new Set(['opt-out', 'opt-in', 'help']);

/** The seed's system-error reply. */
export const SYSTEM_ERROR_SEED = "We're experiencing technical difficulties. Please try again later or call our office.";

/**
 * Per-message state a Decision carries to applyDecision (the cached appointment look-up), as
 * a hidden property. Not a WeakMap: V8's young-generation collector keeps a WeakMap's entries
 * alive, so each message's context, and the request it holds, were promoted to the old
 * generation (about 2.5 KB a message) and left for a full collection to find.
 */
const CONTEXT = Symbol('message context');

function withContext(decision: Decision, ctx: MessageContext): Decision {
  Object.defineProperty(decision, CONTEXT, { value: ctx, enumerable: false });
  return decision;
}

function contextOf(decision: Decision): MessageContext | undefined {
  return (decision as Decision & { [CONTEXT]?: MessageContext })[CONTEXT];
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
 * Runs the clinic's rules on one message in an Engine of its own (an Engine's run
 * status is shared by overlapping run() calls, which loses lower-priority events), after
 * the keyword index has left out rules whose keywords the message lacks and, unless
 * explaining, the prefilter those the message's known facts make false or a halting
 * rule makes unreachable.
 * @param rules - the clinic's compiled rules
 * @param input - the message and what is known about its sender
 * @param options - explain: every candidate rule is evaluated and reported with its conditions
 */
export async function decide(rules: CompiledRules, input: EvaluationInput, options: DecideOptions = {}): Promise<Decision> {
  const explain = options.explain === true;
  const ctx = createMessageContext(rules, input);
  const indexed = selectRules(rules, ctx);
  const { kept: candidates, settledFalse } = explain ? { kept: indexed, settledFalse: [] } : prefilterRules(rules.rules, indexed, ctx.facts);
  // Only the facts the evaluated rules name (all of them when explaining): each is an almanac entry.
  const factNames = new Set<string>();
  for (const i of candidates) {
    for (const name of (rules.rules[i] as CompiledRule).facts) {
      factNames.add(name);
    }
  }
  // Facts as uncached Fact instances: each plain runtime fact would otherwise get its cache
  // key hashed (hash-it) on every message, for a value that is already known.
  const facts0: Record<string, Fact> = {};
  const known = ctx.facts as Record<string, unknown>;
  for (const name of explain ? Object.keys(known) : factNames) {
    if (Object.hasOwn(known, name)) {
      facts0[name] = new Fact(name, known[name], { cache: false });
    }
  }
  for (const name of APPOINTMENT_FACT_NAMES) {
    if (explain || factNames.has(name)) {
      const compute = APPOINTMENT_FACTS[name as keyof typeof APPOINTMENT_FACTS] as (typeof APPOINTMENT_FACTS)[keyof typeof APPOINTMENT_FACTS];
      // The message context caches the look-up itself; json-rules-engine's cache would only hash keys.
      facts0[name] = new Fact(name, async () => compute(await ctx.nextAppointment(), input), { cache: false });
    }
  }
  const engine = takeEngine(rules, candidates);
  const run = await engine.run(facts0);
  // Back to the pool only after a run that finished: a failed one may have left it mid-run.
  giveBackEngine(rules, candidates, engine);
  const byName = new Map<string, RuleResult>();
  for (const result of run.results) {
    byName.set(result.name, result);
  }
  for (const result of run.failureResults) {
    byName.set(result.name, result);
  }
  const candidateSet = new Set(candidates);
  const indexedSet = new Set(indexed);
  const settledSet = new Set(settledFalse);
  const events: FiredEvent[] = [];
  const ruleResults: RuleReport[] = rules.rules.map((rule, i) => {
    if (settledSet.has(i)) {
      return { name: rule.name, priority: rule.priority, matched: false, skipped: 'known-facts' };
    }
    if (!candidateSet.has(i)) {
      return { name: rule.name, priority: rule.priority, matched: false, skipped: indexedSet.has(i) ? 'halted' : 'keyword-index' };
    }
    const result = byName.get(rule.name);
    if (!result) {
      return { name: rule.name, priority: rule.priority, matched: false, skipped: 'halted' };
    }
    const matched = result.result === true;
    if (matched) {
      events.push({ ruleName: rule.name, priority: rule.priority, type: rule.action, params: rule.reply === null ? {} : { reply: rule.reply } });
    }
    return explain
      ? { name: rule.name, priority: rule.priority, matched, conditions: result.toJSON(false).conditions }
      : { name: rule.name, priority: rule.priority, matched };
  });
  const facts: Record<string, unknown> = { ...ctx.facts };
  const appointment = ctx.peekAppointment();
  if (appointment !== undefined) {
    for (const [name, compute] of Object.entries(APPOINTMENT_FACTS)) {
      facts[name] = compute(appointment, input);
    }
  }
  return withContext({ events, ruleResults, facts, evaluated: candidates.map((i) => (rules.rules[i] as CompiledRule).name) }, ctx);
}

const APPOINTMENT_FACT_NAMES = Object.keys(APPOINTMENT_FACTS);

/** Idle Engines a candidate set keeps; more are made when more messages run at once. */
const MAX_IDLE_ENGINES = 16;
/** Candidate sets a rule set pools Engines for; past it, an Engine is made for the message and dropped. */
const MAX_POOLED_SETS = 256;
/** Per compiled rule set (dropped with it on reload): idle Engines by candidate set. */
const ENGINE_POOLS = new WeakMap<CompiledRules, Map<string, Engine[]>>();

/**
 * An Engine holding exactly `candidates`' rules, for one message's run. Each message has its
 * Engine to itself while it runs (an Engine's run status is shared by overlapping run()
 * calls, which loses lower-priority events), but an Engine whose run finished is handed to a
 * later message with the same candidate set. Building one per message (its operator map,
 * Rule and Condition objects, listener) took about a tenth of the server's CPU a request.
 */
function takeEngine(rules: CompiledRules, candidates: readonly number[]): Engine {
  const idle = ENGINE_POOLS.get(rules)?.get(candidates.join(','));
  return idle?.pop() ?? buildEngine(rules, candidates);
}

function giveBackEngine(rules: CompiledRules, candidates: readonly number[], engine: Engine): void {
  let pools = ENGINE_POOLS.get(rules);
  if (!pools) {
    pools = new Map();
    ENGINE_POOLS.set(rules, pools);
  }
  const key = candidates.join(',');
  let idle = pools.get(key);
  if (!idle) {
    if (pools.size >= MAX_POOLED_SETS) {
      return;
    }
    idle = [];
    pools.set(key, idle);
  }
  if (idle.length < MAX_IDLE_ENGINES) {
    idle.push(engine);
  }
}

function buildEngine(rules: CompiledRules, candidates: readonly number[]): Engine {
  const engine = new Engine([], { allowUndefinedFacts: false, allowUndefinedConditions: false, replaceFactsInEventParams: false });
  const halting = new Set<string>();
  for (const i of candidates) {
    const rule = rules.rules[i] as CompiledRule;
    // The definitions are deep-frozen and json-rules-engine copies what it needs: no clone.
    engine.addRule(rule.definition as RuleProperties);
    if (rule.halt) {
      halting.add(rule.name);
    }
  }
  engine.on('success', (_event, _almanac, result: RuleResult) => {
    if (halting.has(result.name)) {
      engine.stop();
    }
  });
  return engine;
}

const BY_NAME = new WeakMap<CompiledRules, ReadonlyMap<string, CompiledRule>>();

/** The clinic's rules by name, made once per compiled rule set. */
function rulesByName(rules: CompiledRules): ReadonlyMap<string, CompiledRule> {
  let found = BY_NAME.get(rules);
  if (!found) {
    found = new Map(rules.rules.map((r) => [r.name, r]));
    BY_NAME.set(rules, found);
  }
  return found;
}

/** Rule positions to hand to the engine: those the message's keyword can satisfy, and those without a keyword condition. */
function selectRules(rules: CompiledRules, ctx: MessageContext): number[] {
  const chosen = new Set<number>(rules.index.always);
  for (const key of [`command:${ctx.command}`, `keyword:${ctx.keyword}`]) {
    for (const i of rules.index.byKey.get(key) ?? []) {
      chosen.add(i);
    }
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * A copy of `decision` with only the events whose action is in `types` (e.g.
 * ALWAYS_PROCESSED_ACTIONS for a rate-limited sender).
 */
export function keepActions(decision: Decision, types: ReadonlySet<string>): Decision {
  const kept: Decision = { ...decision, events: decision.events.filter((e) => types.has(e.type)) };
  const ctx = contextOf(decision);
  return ctx ? withContext(kept, ctx) : kept;
}

/**
 * Runs the decision's actions in priority order and picks the reply: the template of
 * the highest-priority fired rule that names one (by the action's outcome when the
 * rule maps outcomes to templates), with merge fields filled.
 * Safety nets that no rule file can turn off: while the number is opted out there is
 * no reply unless an opt-in or help action fired; a message that opts out gets at most
 * the opt-out confirmation.
 * @param opts - dryRun: actions compute their outcome without writing (simulate)
 */
export async function applyDecision(
  rules: CompiledRules,
  decision: Decision,
  input: EvaluationInput,
  opts: { dryRun?: boolean } = {},
): Promise<Outcome> {
  const ctx = contextOf(decision) ?? createMessageContext(rules, input);
  const byName = rulesByName(rules);
  const done: Array<{ event: FiredEvent; result: ActionResult }> = [];
  const actions: ActionRecord[] = [];
  for (const event of decision.events) {
    const action = getAction(event.type);
    if (!action) {
      throw new AppError('INTERNAL', `rule ${event.ruleName} names unknown action ${event.type}`);
    }
    const result = await action.run({
      clinic: input.clinic,
      message: input.message,
      patients: input.patients,
      optedOut: input.optedOut,
      now: input.now,
      store: input.store,
      dryRun: opts.dryRun === true,
      ruleName: event.ruleName,
      keyword: ctx.keyword,
      nextAppointment: ctx.nextAppointment,
    });
    done.push({ event, result });
    const record: ActionRecord = { type: event.type, outcome: result.outcome, ruleName: event.ruleName };
    if (result.detail) {
      record.detail = result.detail;
    }
    actions.push(record);
  }
  const rulesFired = decision.events.map((e) => e.ruleName);
  const chosen = chooseReply(rules, done, byName, input.clinic);
  const fired = new Set(decision.events.map((e) => e.type));
  const consentReply = fired.has('opt-in') || fired.has('help');
  if (!chosen || (input.optedOut && !consentReply)) {
    return { rulesFired, actions, reply: null };
  }
  if (fired.has('opt-out') && !fired.has('opt-in') && chosen.event.type !== 'opt-out') {
    return { rulesFired, actions, reply: null };
  }
  const reply = await fillTemplate(rules, chosen.template, input, ctx, chosen.result.appointment);
  return { rulesFired, actions, reply };
}

function chooseReply(
  rules: CompiledRules,
  done: ReadonlyArray<{ event: FiredEvent; result: ActionResult }>,
  byName: ReadonlyMap<string, CompiledRule>,
  clinic: Clinic,
): { event: FiredEvent; result: ActionResult; template: CompiledTemplate } | null {
  for (const { event, result } of done) {
    if (event.type === 'no-reply') {
      return null;
    }
    // clinic.autoReply=false turns off the automatic acknowledgement of messages routed to staff.
    if (event.type === 'route-to-staff' && !clinic.autoReply) {
      continue;
    }
    const spec = byName.get(event.ruleName)?.reply ?? null;
    const name = spec === null ? undefined : typeof spec === 'string' ? spec : (spec[result.outcome] ?? spec.default);
    const template = name === undefined ? undefined : rules.templates.get(name);
    if (template) {
      return { event, result, template };
    }
  }
  return null;
}

/** The language a reply is written in: a non-English keyword the patient used, else the patient's language, else English. */
function replyLanguage(rules: CompiledRules, ctx: MessageContext, patients: readonly Patient[]): string {
  if (ctx.language !== '' && ctx.language !== 'en') {
    return ctx.language;
  }
  const preferred = patients.map((p) => p.language).find((l): l is string => l !== undefined && rules.languages.includes(l));
  return preferred ?? 'en';
}

function pickText(template: CompiledTemplate, language: string): ParsedTemplate {
  const found = template.texts[language] ?? template.texts['*'] ?? template.texts.en ?? Object.values(template.texts)[0];
  if (!found) {
    throw new AppError('INTERNAL', `template ${template.name} has no text`);
  }
  return found;
}

async function fillTemplate(
  rules: CompiledRules,
  template: CompiledTemplate,
  input: EvaluationInput,
  ctx: MessageContext,
  actionAppointment: Appointment | null | undefined,
): Promise<string> {
  const language = replyLanguage(rules, ctx, input.patients);
  const parsed = pickText(template, language);
  const needsAppointment = parsed.fields.some((f) => f.startsWith('appointment.') || f === 'patient.firstName');
  let appointment: Appointment | null = actionAppointment ?? null;
  if (actionAppointment === undefined && needsAppointment && input.patients.length > 0) {
    appointment = await ctx.nextAppointment();
  }
  // A dictionary (null prototype) from the start: an object literal given these dotted keys one
  // by one made V8 build new hidden classes for it on every message, in the old generation
  // (about 650 B a message, measured), which only full collections reclaim.
  const values = Object.assign(Object.create(null) as Partial<Record<MergeField, string>>, clinicValues(input.clinic, input.message.to));
  values['message.keyword'] = ctx.keyword;
  const owner = appointment ? input.patients.find((p) => p.id === appointment.patientId) : undefined;
  values['patient.firstName'] = (owner ?? input.patients[0])?.firstName ?? '';
  if (appointment) {
    // ICU date formatting is the dearest part of a reply: only what the template shows.
    if (parsed.fields.includes('appointment.time')) {
      values['appointment.time'] = formatAppointmentTime(appointment.startsAt, input.clinic.timezone, language);
    }
    if (parsed.fields.includes('appointment.date')) {
      values['appointment.date'] = formatAppointmentDate(appointment.startsAt, input.clinic.timezone, language);
    }
    values['appointment.provider'] = appointment.provider ?? '';
  }
  return renderTemplate(parsed, values);
}

function clinicValues(clinic: Clinic, to: string | undefined): Partial<Record<MergeField, string>> {
  const texting = to && to !== '' ? to : (clinic.phoneNumbers[0] ?? '');
  return { 'clinic.name': clinic.name, 'clinic.officePhone': clinic.officePhone ?? texting, 'clinic.phone': texting };
}

/**
 * The system-error reply: the clinic's `system-error` template (clinic merge fields
 * only), or the seed text when the clinic has no compiled rules.
 */
export function systemErrorText(rules: CompiledRules | undefined): string {
  const template = rules?.templates.get('system-error');
  if (!rules || !template) {
    return SYSTEM_ERROR_SEED;
  }
  return renderTemplate(pickText(template, 'en'), clinicValues(rules.clinic, undefined));
}
