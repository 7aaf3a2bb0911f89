/**
 * Quick replies: texts the front desk inserts into the reply box by typing `/` and a
 * shortcode (`quickReplies: [{shortcode, text}]` in a rules file). Their texts use the
 * reply templates' merge fields, filled for the open conversation's patient, and are
 * checked when the rules load (and by `rules check`) with file:line:col.
 */
import { didYouMean } from './suggest.js';
import type { JsonPath } from '../config/yaml-source.js';
import { parseTemplate, type MergeField, type ParsedTemplate } from './templates.js';

/** A shortcode: lower-case letters, digits and dashes, starting with a letter or digit. */
export const SHORTCODE = /^[a-z0-9][a-z0-9-]*$/;
export const SHORTCODE_MAX = 24;
/**
 * A quick reply's text as written, at most this long: filled with a patient's name and an
 * appointment time it still fits the reply box (1,600 characters, Twilio's limit).
 */
export const QUICK_REPLY_MAX = 1000;

/** The merge fields a quick reply can use: what is known about a conversation's patient, not about one message. */
export const QUICK_REPLY_FIELDS: ReadonlySet<MergeField> = new Set<MergeField>([
  'clinic.name',
  'clinic.officePhone',
  'clinic.phone',
  'patient.firstName',
  'appointment.time',
  'appointment.date',
  'appointment.provider',
]);

/** One quick reply of a file: its texts per language ("*": one text for every language). */
export interface ParsedQuickReply {
  shortcode: string;
  texts: Record<string, ParsedTemplate>;
  /** Where it is written: quickReplies[i]. */
  path: JsonPath;
}

/** One quick reply of a clinic's merged rules. */
export interface CompiledQuickReply {
  readonly shortcode: string;
  /** By language; "*" serves every language. */
  readonly texts: Readonly<Record<string, ParsedTemplate>>;
  readonly source: { file: string; line: number; col: number };
}

type At = (path: JsonPath, message: string, opts?: { offset?: number }) => void;

/**
 * Checks a file's `quickReplies:`: each shortcode well formed and used once (letter case
 * aside), each text not empty, not too long, with known merge fields a quick reply can fill.
 * Entries the schema refuses are skipped here (the schema said why).
 * @param value - the file's quickReplies value
 * @param at - reports a finding at a path of the file
 * @returns the well-formed quick replies, in file order
 */
export function checkQuickReplies(value: unknown, at: At): ParsedQuickReply[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const out: ParsedQuickReply[] = [];
  const seen = new Map<string, number>();
  value.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      return;
    }
    const { shortcode, text } = entry as { shortcode?: unknown; text?: unknown };
    const base: JsonPath = ['quickReplies', i];
    const where = `quickReplies[${i}]`;
    let ok = true;
    if (typeof shortcode === 'string') {
      const code = shortcode.toLowerCase();
      const previous = seen.get(code);
      if (!SHORTCODE.test(shortcode) || shortcode.length > SHORTCODE_MAX) {
        at([...base, 'shortcode'], `${where}.shortcode: "${shortcode}" is not a shortcode (lower-case letters, digits and dashes, at most ${SHORTCODE_MAX}, typed as /${code.replace(/[^a-z0-9-]/g, '') || 'confirm'})`);
        ok = false;
      } else if (previous !== undefined) {
        at([...base, 'shortcode'], `${where}.shortcode: "${shortcode}" is already the shortcode of quickReplies[${previous}]`);
        ok = false;
      } else {
        seen.set(code, i);
      }
    } else {
      ok = false;
    }
    const texts: Array<[string, unknown, JsonPath]> =
      typeof text === 'string'
        ? [['*', text, [...base, 'text']]]
        : typeof text === 'object' && text !== null && !Array.isArray(text)
          ? Object.entries(text).map(([language, t]): [string, unknown, JsonPath] => [language, t, [...base, 'text', language]])
          : [];
    const parsed: Record<string, ParsedTemplate> = {};
    for (const [language, written, path] of texts) {
      if (typeof written !== 'string') {
        ok = false;
        continue;
      }
      const { template, problems } = parseTemplate(written);
      for (const p of problems) {
        const unknown = /^unknown merge field "\{\{(.*)\}\}"/.exec(p.message);
        const message = unknown ? `unknown placeholder "{{${unknown[1]}}}"${didYouMean(unknown[1] ?? '', QUICK_REPLY_FIELDS)} (a quick reply can use ${[...QUICK_REPLY_FIELDS].join(', ')})` : p.message;
        at(path, `${where}.text: ${message}`, { offset: p.offset });
      }
      for (const field of template.fields.filter((f) => !QUICK_REPLY_FIELDS.has(f))) {
        const offset = written.search(new RegExp(`\\{\\{\\s*${field.replace('.', '\\.')}\\s*\\}\\}`));
        at(path, `${where}.text: {{${field}}} is not known in a quick reply (use ${[...QUICK_REPLY_FIELDS].join(', ')})`, offset >= 0 ? { offset } : undefined);
      }
      if (written.trim() === '') {
        at(path, `${where}.text: empty text`);
      } else if (written.length > QUICK_REPLY_MAX) {
        at(path, `${where}.text: too long (${written.length} characters; a quick reply is at most ${QUICK_REPLY_MAX}, so it still fits a 1,600-character SMS once filled)`);
      }
      ok &&= problems.length === 0 && template.fields.every((f) => QUICK_REPLY_FIELDS.has(f));
      parsed[language] = template;
    }
    if (ok && typeof shortcode === 'string' && Object.keys(parsed).length > 0) {
      out.push({ shortcode, texts: parsed, path: base });
    }
  });
  return out;
}

/**
 * The text of a quick reply for a patient's language: that language's, else English, else
 * the one for every language, else the first written.
 * @param reply - the quick reply
 * @param language - the patient's language (null: unknown)
 */
export function quickReplyText(reply: Pick<CompiledQuickReply, 'texts'>, language: string | null): { template: ParsedTemplate; language: string } {
  for (const wanted of [language, 'en', '*']) {
    const found = wanted === null ? undefined : reply.texts[wanted];
    if (found) {
      return { template: found, language: wanted === '*' || wanted === null ? 'en' : wanted };
    }
  }
  const [first, template] = Object.entries(reply.texts)[0] ?? ['en', { segments: [], fields: [] }];
  return { template, language: first };
}
