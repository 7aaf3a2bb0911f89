import { getAction } from '../actions/index.js';
import type { ActionRecord, PendingChoice, StaffRouting } from '../domain.js';
import { AppError } from '../errors.js';
import type { CompiledRules } from '../rules/compile.js';
import type { Decision, EvaluationInput } from '../rules/evaluate.js';
import { choiceQuestionText, composeReply, replyLanguage, type ActionDone } from '../rules/reply.js';
import { countSegments } from '../sms-segments.js';

export interface Outcome {
  rulesFired: string[];
  actions: ActionRecord[];
  reply: string | null;
  /** The template the reply came from (absent: no reply). */
  replyTemplate?: string;
  /** A family's question this message asked, answered, or listed for staff. */
  choice?: PendingChoice;
  /** The message went to staff marked as a possible opt-out. */
  possibleOptOut?: true;
}

/** Actions processed even when the sender is rate-limited: consent, HELP and safety answers must always work. */
export const ALWAYS_PROCESSED_ACTIONS: ReadonlySet<string> = new Set(['opt-out', 'opt-in', 'help', 'safety']);

/**
 * A copy of `decision` with only the events whose action is in `types` (e.g.
 * ALWAYS_PROCESSED_ACTIONS for a rate-limited sender).
 */
export function keepActions(decision: Decision, types: ReadonlySet<string>): Decision {
  return { ...decision, events: decision.events.filter((e) => types.has(e.type)) };
}

/**
 * Runs the decision's actions in priority order, then composes the reply from what they did
 * (rules/reply.ts).
 * @param opts - staff: where messages for staff go; dryRun: actions compute their outcome without writing (simulate)
 */
export async function applyDecision(rules: CompiledRules, decision: Decision, input: EvaluationInput, opts: { staff: StaffRouting; dryRun?: boolean }): Promise<Outcome> {
  const done: ActionDone[] = [];
  const actions: ActionRecord[] = [];
  const { context } = decision;
  const language = replyLanguage(rules, context, input.patients);
  let choice: PendingChoice | undefined;
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
      receivedAt: input.receivedAt ?? input.now,
      store: input.store,
      staff: opts.staff,
      dryRun: opts.dryRun === true,
      ruleName: event.ruleName,
      params: event.params,
      keyword: context.keyword,
      nextAppointment: context.nextAppointment,
      command: context.command,
      choice: context.choice,
      revocation: context.revocation,
      upcoming: context.upcoming,
      settings: rules.settings,
      language,
      questionFits: (options) => {
        const text = choiceQuestionText(rules, event.reply, options, input, language);
        return text !== null && countSegments(text).segments <= rules.settings.choiceMaxSegments;
      },
    });
    choice ??= result.choice?.question;
    done.push({ event, outcome: result.outcome, appointment: result.appointment, choice: result.choice });
    for (const r of [result, ...(result.also ?? [])]) {
      actions.push({ type: event.type, outcome: r.outcome, ruleName: event.ruleName, ...(r.detail ? { detail: r.detail } : {}) });
    }
  }
  const reply = await composeReply(rules, done, input, context);
  // A question pending when the message came (free text for staff): the thread shows it.
  choice ??= context.choice.pending ?? undefined;
  return {
    rulesFired: decision.events.map((e) => e.ruleName),
    actions,
    reply: reply?.text ?? null,
    ...(reply ? { replyTemplate: reply.template } : {}),
    ...(choice ? { choice } : {}),
    ...(actions.some((a) => a.detail?.possibleOptOut === true) ? { possibleOptOut: true as const } : {}),
  };
}
