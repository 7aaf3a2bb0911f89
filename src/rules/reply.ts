/**
 * The reply to a message: which fired rule's template answers it, in which language, with
 * its merge fields filled; and the system-error text.
 */
import { CONSENT_ACTIONS } from '../actions/consent.js';
import { REPLIES_TO_OPTED_OUT } from '../actions/index.js';
import { SYSTEM_ERROR_TEXT, type Appointment, type Clinic, type Patient } from '../domain.js';
import { AppError } from '../errors.js';
import type { CompiledRules, CompiledTemplate } from './compile.js';
import type { FiredEvent } from './evaluate.js';
import { formatAppointmentDate, formatAppointmentTime } from './local-time.js';
import type { EvaluationInput, MessageContext } from './message-facts.js';
import { renderTemplate, type MergeField, type ParsedTemplate } from './templates.js';

/** A fired event whose action ran: its outcome, and the appointment it concerned (its state after). */
export interface ActionDone {
  event: FiredEvent;
  outcome: string;
  appointment?: Appointment | null | undefined;
}

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
export async function composeReply(rules: CompiledRules, done: readonly ActionDone[], input: EvaluationInput, context: MessageContext): Promise<string | null> {
  const consent = done.filter((d) => CONSENT_ACTIONS.has(d.event.type));
  // An opted-out number is answered only by the rules whose reply may reach it (a no-reply still silences them).
  const candidates = consent.length > 0 ? consent : input.optedOut ? done.filter((d) => REPLIES_TO_OPTED_OUT.has(d.event.type) || d.event.type === 'no-reply') : done;
  const chosen = chooseTemplate(rules, candidates, input.clinic);
  if (!chosen || (input.optedOut && !REPLIES_TO_OPTED_OUT.has(chosen.done.event.type))) {
    return null;
  }
  return fillTemplate(rules, chosen.template, input, context, chosen.done.appointment);
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

/** The language a reply is written in: a non-English keyword the patient used, else the patient's language, else English. */
function replyLanguage(rules: CompiledRules, context: MessageContext, patients: readonly Patient[]): string {
  if (context.language !== '' && context.language !== 'en') {
    return context.language;
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
    return SYSTEM_ERROR_TEXT;
  }
  return renderTemplate(pickText(template, 'en'), clinicValues(rules.clinic, undefined));
}
