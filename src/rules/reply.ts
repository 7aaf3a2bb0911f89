/**
 * The reply to a message: which fired rule's template answers it, in which language, with
 * its merge fields filled; and the system-error text.
 */
import { CONSENT_ACTIONS } from '../actions/consent.js';
import { REPLIES_TO_OPTED_OUT } from '../actions/index.js';
import { SYSTEM_ERROR_TEXT, type Appointment, type ChoiceOption, type Clinic, type Patient, type PendingChoice } from '../domain.js';
import { AppError } from '../errors.js';
import type { CompiledRules, CompiledTemplate } from './compile.js';
import type { FiredEvent } from './evaluate.js';
import { closureOn, formatAppointmentDate, formatAppointmentTime, localTime } from './local-time.js';
import type { EvaluationInput, MessageContext } from './message-facts.js';
import { renderTemplate, type MergeField, type ParsedTemplate } from './templates.js';

/** A fired event whose action ran: its outcome, and the appointment it concerned (its state after). */
export interface ActionDone {
  event: FiredEvent;
  outcome: string;
  appointment?: Appointment | null | undefined;
  /** A family's question the action asked or applied, and the options chosen. */
  choice?: { question: PendingChoice; chosen: readonly ChoiceOption[] } | undefined;
}

/** The reply text and the template it came from. */
export interface Reply {
  text: string;
  template: string;
}

/** The template that writes each option of {{choice.options}}; without it, "1: Dylan (time)". */
export const CHOICE_OPTION_TEMPLATE = 'which-appointment-option';

/**
 * The template of the highest-priority fired rule that names one (by the action's outcome
 * when the rule maps outcomes to templates), with merge fields filled; null for none.
 * Safety nets that no rule file can turn off: when a consent action (opt-out, opt-in) ran,
 * the reply is its rule's, whatever rule of higher priority fired (a no-reply included), and
 * a message that opts out gets at most that confirmation; while the number is opted out the
 * reply is sent only when it is the template of an opt-in, help or safety rule.
 * @param done - the actions that ran, highest priority first
 * @param context - the message's context (keyword, language, the cached appointment look-up)
 */
export async function composeReply(rules: CompiledRules, done: readonly ActionDone[], input: EvaluationInput, context: MessageContext): Promise<Reply | null> {
  const consent = done.filter((d) => CONSENT_ACTIONS.has(d.event.type));
  // An opted-out number is answered only by the rules whose reply may reach it (a no-reply still silences them).
  const candidates = consent.length > 0 ? consent : input.optedOut ? done.filter((d) => REPLIES_TO_OPTED_OUT.has(d.event.type) || d.event.type === 'no-reply') : done;
  const chosen = chooseTemplate(rules, candidates, input.clinic);
  if (!chosen || (input.optedOut && !REPLIES_TO_OPTED_OUT.has(chosen.done.event.type))) {
    return null;
  }
  const closureText = chosen.template.name === CLOSED_TODAY_TEMPLATE ? closureReply(rules, input, context) : null;
  if (closureText !== null) {
    return { text: closureText, template: chosen.template.name };
  }
  const text = await fillTemplate(rules, chosen.template, input, context, chosen.done.appointment, chosen.done.choice);
  return { text, template: chosen.template.name };
}

/** The template a closure's own reply replaces on its days. */
export const CLOSED_TODAY_TEMPLATE = 'closed-today';

/** Today's closure's own reply, in the reply's language (or its one text), or null when it gives none. */
function closureReply(rules: CompiledRules, input: EvaluationInput, context: MessageContext): string | null {
  const closure = closureOn(input.clinic, localTime(input.now, input.clinic.timezone).date);
  if (!closure?.reply) {
    return null;
  }
  const language = replyLanguage(rules, context, input.patients);
  return closure.reply[language] ?? closure.reply['*'] ?? closure.reply.en ?? Object.values(closure.reply)[0] ?? null;
}

function chooseTemplate(rules: CompiledRules, done: readonly ActionDone[], clinic: Clinic): { done: ActionDone; template: CompiledTemplate } | null {
  for (const d of done) {
    if (d.event.type === 'no-reply') {
      return null;
    }
    // clinic.autoReply=false turns off the automatic acknowledgement of messages routed to staff.
    if (d.event.type === 'route-to-staff' && !clinic.autoReply) {
      continue;
    }
    const spec = d.event.reply;
    const name = spec === null ? undefined : typeof spec === 'string' ? spec : (spec[d.outcome] ?? spec.default);
    const template = name === undefined ? undefined : rules.templates.get(name);
    if (template) {
      return { done: d, template };
    }
  }
  return null;
}

/**
 * The language a reply is written in: a non-English keyword the patient used, else the
 * language a pending question was asked in (an answer like "2" has none), else the
 * patient's language, else English.
 */
export function replyLanguage(rules: CompiledRules, context: MessageContext, patients: readonly Patient[]): string {
  if (context.language !== '' && context.language !== 'en') {
    return context.language;
  }
  const asked = context.choice.pending?.language;
  if (context.language === '' && asked !== undefined && rules.languages.includes(asked)) {
    return asked;
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
  context: MessageContext,
  actionAppointment: Appointment | null | undefined,
  choice?: ActionDone['choice'],
): Promise<string> {
  const language = replyLanguage(rules, context, input.patients);
  const parsed = pickText(template, language);
  const needsAppointment = parsed.fields.some((f) => f.startsWith('appointment.') || f === 'patient.firstName');
  let appointment: Appointment | null = actionAppointment ?? null;
  if (actionAppointment === undefined && needsAppointment && input.patients.length > 0) {
    appointment = await context.nextAppointment();
  }
  // A dictionary (null prototype) from the start: an object literal given these dotted keys one
  // by one made V8 build new hidden classes for it on every message (measured: about 650 B a
  // message promoted to the old generation).
  const values = Object.assign(Object.create(null) as Partial<Record<MergeField, string>>, clinicValues(input.clinic, input.message.to));
  values['message.keyword'] = context.keyword;
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
  if (choice) {
    values['choice.options'] = choiceOptionsText(rules, choice.question.options, input, language);
    values['choice.chosen'] = chosenText(choice.chosen, input.clinic, language);
  }
  return renderTemplate(parsed, values);
}

/** {{choice.options}}: each option through the which-appointment-option template, joined with commas. */
function choiceOptionsText(rules: CompiledRules, options: readonly ChoiceOption[], input: Pick<EvaluationInput, 'clinic' | 'message'>, language: string): string {
  const template = rules.templates.get(CHOICE_OPTION_TEMPLATE);
  return options
    .map((option, i) => {
      const time = formatAppointmentTime(option.startsAt, input.clinic.timezone, language);
      if (!template) {
        return `${i + 1}: ${option.firstName} (${time})`;
      }
      const values: Partial<Record<MergeField, string>> = {
        ...clinicValues(input.clinic, input.message.to),
        'choice.number': String(i + 1),
        'patient.firstName': option.firstName,
        'appointment.time': time,
        'appointment.date': formatAppointmentDate(option.startsAt, input.clinic.timezone, language),
      };
      return renderTemplate(pickText(template, language), values);
    })
    .join(', ');
}

/** {{choice.chosen}}: "Dylan (Wed, Dec 9, 8:00 AM CST) and Carla (...)", joined the language's way. */
function chosenText(chosen: readonly ChoiceOption[], clinic: Clinic, language: string): string {
  const items = chosen.map((o) => `${o.firstName} (${formatAppointmentTime(o.startsAt, clinic.timezone, language)})`);
  return new Intl.ListFormat(language, { type: 'conjunction' }).format(items);
}

/**
 * The question a rule's `asked` reply would send for `options`, written as it would be sent
 * (ask-which-appointment checks that it fits in the clinic's SMS segments before asking).
 * @returns null when the rule names no template for `asked`
 */
export function choiceQuestionText(
  rules: CompiledRules,
  spec: FiredEvent['reply'],
  options: readonly ChoiceOption[],
  input: EvaluationInput,
  language: string,
): string | null {
  const name = spec === null ? undefined : typeof spec === 'string' ? spec : (spec.asked ?? spec.default);
  const template = name === undefined ? undefined : rules.templates.get(name);
  if (!template) {
    return null;
  }
  const values: Partial<Record<MergeField, string>> = {
    ...clinicValues(input.clinic, input.message.to),
    'patient.firstName': options[0]?.firstName ?? '',
    'choice.options': choiceOptionsText(rules, options, input, language),
  };
  return renderTemplate(pickText(template, language), values);
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
    return SYSTEM_ERROR_TEXT;
  }
  return renderTemplate(pickText(template, 'en'), clinicValues(rules.clinic, undefined));
}
