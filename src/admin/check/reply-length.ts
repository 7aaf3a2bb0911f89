import type { Clinic } from '../../domain.js';
import { formatAppointmentDate, formatAppointmentTime } from '../../rules/local-time.js';
import { renderTemplate, type MergeField } from '../../rules/templates.js';
import { fileNamed, warningAt, type CheckWarning, type ClinicCheckContext } from './check-context.js';
import { countSegments, describeNonGsm } from '../../sms-segments.js';

/** An appointment time whose text is long in both languages (Wednesday, September). */
const SAMPLE_APPOINTMENT = new Date('2026-09-30T15:30:00Z');

/**
 * Typical merge values for a clinic: its own name and numbers, a longish first name
 * and provider, and an appointment time formatted as replies format it.
 * @param clinic - the clinic
 * @param language - the text's language ("*": English)
 */
export function typicalMergeValues(clinic: Clinic, language: string): Record<MergeField, string> {
  const lang = language === '*' ? 'en' : language;
  const texting = clinic.phoneNumbers[0] ?? '+13125550100';
  return {
    'clinic.name': clinic.name,
    'clinic.officePhone': clinic.officePhone ?? texting,
    'clinic.phone': texting,
    'patient.firstName': 'Alexandra',
    'appointment.time': formatAppointmentTime(SAMPLE_APPOINTMENT, clinic.timezone, lang),
    'appointment.date': formatAppointmentDate(SAMPLE_APPOINTMENT, clinic.timezone, lang),
    'appointment.provider': 'Dr. Rodriguez',
    'message.keyword': 'RESCHEDULE',
    // Two options of a family phone's question, as the shipped which-appointment-option writes them.
    'choice.options': [1, 2].map((n) => `${n} ${lang === 'es' ? 'para' : 'for'} Alexandra (${formatAppointmentTime(SAMPLE_APPOINTMENT, clinic.timezone, lang)})`).join(', '),
    'choice.number': '2',
    'choice.chosen': new Intl.ListFormat(lang, { type: 'conjunction' }).format(
      [1, 2].map(() => `Alexandra (${formatAppointmentTime(SAMPLE_APPOINTMENT, clinic.timezone, lang)})`),
    ),
  };
}

/**
 * Replies longer than `maxSegments` SMS segments once merge fields are filled with
 * typical values: each extra segment is billed, and some phones show parts apart.
 * @param maxSegments - segments a reply may take before the warning (default 1)
 */
export function replyLengthWarnings(ctx: ClinicCheckContext, maxSegments = 1): CheckWarning[] {
  const findings: CheckWarning[] = [];
  for (const template of ctx.compiled.templates.values()) {
    const file = fileNamed(ctx, template.source.file);
    for (const [language, parsed] of Object.entries(template.texts)) {
      if (language !== '*' && !ctx.compiled.languages.includes(language)) {
        continue;
      }
      const text = renderTemplate(parsed, typicalMergeValues(ctx.clinic, language));
      const count = countSegments(text);
      if (count.segments <= maxSegments) {
        continue;
      }
      const why = describeNonGsm(count);
      const limit = `${count.singleLimit} ${count.encoding} characters fit one segment, ${count.partLimit} each part of a longer one`;
      const path = language === '*' ? ['templates', template.name] : ['templates', template.name, language];
      findings.push({
        code: 'reply-length',
        concerns: { template: template.name },
        ...warningAt(
          file,
          path,
          `templates.${template.name}${language === '*' ? '' : `.${language}`}: ${count.segments} SMS segments (${count.units} ${count.encoding} characters${why ? `, ${why}` : ''}) with typical merge values; ${limit}`,
        ),
      });
    }
  }
  return findings;
}
