/**
 * Reply templates: plain text with {{merge.fields}}. Parsed once at load time into
 * segments, filled per message. Output is plain text; the TwiML layer escapes XML.
 */

export const MERGE_FIELDS = {
  'clinic.name': 'the clinic name',
  'clinic.officePhone': 'the office phone (the clinic\'s texting number when no office phone is configured)',
  'clinic.phone': 'the clinic number the patient texted',
  'patient.firstName': 'first name of the patient whose appointment it is, else of the first patient on the number ("" for unknown numbers)',
  'appointment.time': 'date and time of the appointment in the clinic\'s time zone, e.g. "Tue, Dec 1, 9:00 AM CST"',
  'appointment.date': 'the date alone, e.g. "Tuesday, December 1"',
  'appointment.provider': 'the provider ("" when not recorded)',
  'message.keyword': 'the first word of the message, normalized',
  'choice.options': 'a family phone\'s "which appointment?" options, each from the which-appointment-option template, joined with commas',
  'choice.number': 'in which-appointment-option: the number the patient replies for this option',
  'choice.chosen': 'the appointments a family chose, e.g. "Dylan (Wed, Dec 9, 8:00 AM CST) and Carla (Sun, Dec 13, 8:00 AM CST)"',
} as const satisfies Record<string, string>;

export type MergeField = keyof typeof MERGE_FIELDS;

/** Merge fields that need no patient or appointment (the system-error text). */
export const CLINIC_MERGE_FIELDS: ReadonlySet<string> = new Set(['clinic.name', 'clinic.officePhone', 'clinic.phone']);

export type Segment = { text: string } | { field: MergeField };

export interface ParsedTemplate {
  segments: Segment[];
  fields: MergeField[];
}

export interface TemplateProblem {
  /** Offset of the problem inside the template text. */
  offset: number;
  message: string;
}

const FIELD = /\{\{\s*([^{}]*?)\s*\}\}/g;

/**
 * Splits a template into text and merge fields.
 * @param text - the template
 * @returns the parsed template and any problems (unknown field, unbalanced braces)
 */
export function parseTemplate(text: string): { template: ParsedTemplate; problems: TemplateProblem[] } {
  const segments: Segment[] = [];
  const fields: MergeField[] = [];
  const problems: TemplateProblem[] = [];
  let last = 0;
  for (const match of text.matchAll(FIELD)) {
    const start = match.index ?? 0;
    checkBraces(text.slice(last, start), last, problems);
    if (start > last) {
      segments.push({ text: text.slice(last, start) });
    }
    const name = match[1] ?? '';
    if (Object.prototype.hasOwnProperty.call(MERGE_FIELDS, name)) {
      segments.push({ field: name as MergeField });
      fields.push(name as MergeField);
    } else {
      problems.push({ offset: start, message: `unknown merge field "{{${name}}}" (known: ${Object.keys(MERGE_FIELDS).join(', ')})` });
    }
    last = start + match[0].length;
  }
  checkBraces(text.slice(last), last, problems);
  if (last < text.length) {
    segments.push({ text: text.slice(last) });
  }
  return { template: { segments, fields }, problems };
}

function checkBraces(text: string, base: number, problems: TemplateProblem[]): void {
  const at = text.search(/\{\{|\}\}/);
  if (at >= 0) {
    problems.push({ offset: base + at, message: 'unbalanced "{{" or "}}": merge fields are written {{clinic.name}}' });
  }
}

/** Fills a parsed template; a field without a value becomes "". */
export function renderTemplate(template: ParsedTemplate, values: Partial<Record<MergeField, string>>): string {
  let out = '';
  for (const segment of template.segments) {
    out += 'text' in segment ? segment.text : (values[segment.field] ?? '');
  }
  return out;
}
