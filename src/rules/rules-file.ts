import { createHash } from 'node:crypto';
import { ACTIONS, getAction } from '../actions/index.js';
import type { Finding } from '../errors.js';
import { analyzeConditions, type ConditionAnalysis } from './conditions.js';
import { normalizeText } from './normalize.js';
import { schemaFindings } from './rules-schema.js';
import { didYouMean } from './suggest.js';
import { CLINIC_MERGE_FIELDS, parseTemplate, type ParsedTemplate } from './templates.js';
import { checkQuickReplies, type ParsedQuickReply } from './quick-replies.js';
import { parseYamlSource, type JsonPath, type YamlSource } from '../config/yaml-source.js';

export type ReplySpec = string | Readonly<Record<string, string>>;

export interface RuleData {
  name: string;
  description?: string;
  priority?: number;
  halt?: boolean;
  /** Warning codes of `rules check` accepted on purpose for this rule. */
  accept?: string[];
  conditions: Record<string, unknown>;
  event: { type: string; params?: { reply?: ReplySpec; priority?: 'urgent' | 'normal'; reason?: string } };
}

/** A phrase list as written: phrases for every language, or phrases by language. */
export type PhraseListData = string[] | Record<string, string[]>;

export interface RulesFileData {
  version?: 1;
  keywords?: Record<string, Record<string, string[]>>;
  /** Named phrase lists, used by containsPhraseFrom conditions (and facts built on them). */
  phrases?: Record<string, PhraseListData>;
  /** A text, or texts by language (plus `accept:`, warning codes accepted on purpose). */
  templates?: Record<string, string | Record<string, string | string[]>>;
  rules?: RuleData[];
  /** Texts the front desk inserts with `/shortcode` (a clinic's replace the default's of the same shortcode). */
  quickReplies?: Array<{ shortcode: string; text: string | Record<string, string> }>;
  disable?: string[];
  settings?: Partial<RulesSettings>;
}

/** The conversation-aware settings of a clinic's rules (`settings:`; a clinic's file overrides key by key). */
export interface RulesSettings {
  /** How long a family phone's "which appointment?" question waits for its answer. */
  choiceExpiresHours: number;
  /** Appointments starting within this many days are offered. */
  choiceWithinDays: number;
  /** The question must fit in this many SMS segments; past that the message goes to staff with the list. */
  choiceMaxSegments: number;
  /** conversation.staffActive: staff replied or wrote in the conversation within this many hours. */
  staffActiveHours: number;
  /** sender.recentReplies: automatic replies sent within this many hours. */
  autoReplyOnceHours: number;
}

export const DEFAULT_SETTINGS: Readonly<RulesSettings> = Object.freeze({
  choiceExpiresHours: 24,
  choiceWithinDays: 30,
  choiceMaxSegments: 2,
  staffActiveHours: 24,
  autoReplyOnceHours: 24,
});

/** One rule of a file, checked on its own, with what compiling needs. */
export interface ParsedRule {
  data: RuleData;
  index: number;
  analysis: ConditionAnalysis;
}

/** One template of a file: per language (key "*" when one text serves every language). */
export interface ParsedTemplateEntry {
  name: string;
  texts: Record<string, { text: string; parsed: ParsedTemplate }>;
}

export interface ParsedRulesFile {
  file: string;
  kind: 'default' | 'clinic';
  source: YamlSource;
  /** sha256 of the file's text. */
  hash: string;
  /** Null when the file cannot be used at all (syntax or schema errors). */
  data: RulesFileData | null;
  rules: ParsedRule[];
  templates: ParsedTemplateEntry[];
  quickReplies: ParsedQuickReply[];
  /** True when the file could not be read or has YAML syntax errors: nothing in it can be checked further. */
  unusable: boolean;
  /** Every problem found in this file on its own (cross-file checks come at compile). */
  findings: Finding[];
}

/**
 * Parses and checks one rules file on its own: YAML syntax, the JSON Schema, facts,
 * operators, value types, actions and their reply outcomes, template merge fields,
 * duplicate names and keyword variants. Never throws for bad content.
 * @param text - the file's content
 * @param file - its path, used in findings
 * @param kind - 'default' for rules/default.yaml, 'clinic' for rules/clinics/<id>.yaml
 */
export function parseRulesFile(text: string, file: string, kind: 'default' | 'clinic'): ParsedRulesFile {
  const source = parseYamlSource(text, file);
  const hash = createHash('sha256').update(text).digest('hex');
  const result: ParsedRulesFile = {
    file,
    kind,
    source,
    hash,
    data: null,
    rules: [],
    templates: [],
    quickReplies: [],
    unusable: false,
    findings: [...source.syntaxFindings],
  };
  if (result.findings.some((f) => f.severity !== 'warning')) {
    result.unusable = true;
    return sortFindings(result);
  }
  const data = source.data ?? {};
  const schema = schemaFindings({ ...source, data });
  result.findings.push(...schema);
  if (!isRecord(data)) {
    return sortFindings(result);
  }
  // The semantic checks run even after schema errors, on whatever parts are well formed,
  // so an admin sees every problem at once; the file is only used when both pass.
  const typed = data as RulesFileData;
  const at = (path: JsonPath, message: string, opts?: { key?: boolean; offset?: number }): void => {
    result.findings.push(source.findingAt(path, message, opts));
  };
  if (kind === 'default' && typed.disable !== undefined) {
    at(['disable'], 'disable: only clinic files can disable rules (remove the rule from default.yaml instead)', { key: true });
  }
  if (isRecord(typed.keywords)) {
    checkKeywords(typed, at);
  }
  if (isRecord(typed.templates)) {
    result.templates = checkTemplates(typed, at);
  }
  if (isRecord(typed.phrases)) {
    checkPhrases(typed, at);
  }
  result.quickReplies = checkQuickReplies(typed.quickReplies, at);
  const names = new Map<string, number>();
  (Array.isArray(typed.rules) ? typed.rules : []).forEach((rule: unknown, index) => {
    if (!isRecord(rule)) {
      return;
    }
    const base: JsonPath = ['rules', index];
    const name = typeof rule.name === 'string' ? rule.name : '';
    const previous = names.get(name);
    if (name !== '' && previous !== undefined) {
      at([...base, 'name'], `rules[${index}].name: "${name}" is already used by rules[${previous}] in this file`);
    } else if (name !== '') {
      names.set(name, index);
    }
    const analysis = analyzeConditions(rule.conditions, [...base, 'conditions']);
    if (rule.conditions !== undefined) {
      for (const p of analysis.problems) {
        at(p.path, p.message, p.key ? { key: true } : undefined);
      }
    }
    if (isRecord(rule.event) && typeof rule.event.type === 'string') {
      checkEvent(rule as unknown as RuleData, base, at);
    }
    result.rules.push({ data: rule as unknown as RuleData, index, analysis });
  });
  if (schema.length === 0) {
    result.data = typed;
  }
  return sortFindings(result);
}

function checkKeywords(data: RulesFileData, at: (path: JsonPath, message: string) => void): void {
  const owner = new Map<string, string>();
  for (const [command, byLanguage] of Object.entries(data.keywords ?? {})) {
    if (!isRecord(byLanguage)) {
      continue;
    }
    for (const [language, variants] of Object.entries(byLanguage)) {
      (Array.isArray(variants) ? variants : []).forEach((variant: unknown, i) => {
        if (typeof variant !== 'string') {
          return;
        }
        const path = ['keywords', command, language, i];
        const phrase = normalizeText(variant);
        if (phrase === '') {
          at(path, `keywords.${command}.${language}[${i}]: "${variant}" has no letters or digits`);
          return;
        }
        const other = owner.get(phrase);
        if (other !== undefined && other !== command) {
          at(path, `keywords.${command}.${language}[${i}]: "${phrase}" is already a variant of ${other}`);
        }
        owner.set(phrase, command);
      });
    }
  }
}

/** Each phrase has something to match once normalized, and is not twice in one list. */
function checkPhrases(data: RulesFileData, at: (path: JsonPath, message: string) => void): void {
  for (const [name, value] of Object.entries(data.phrases ?? {})) {
    const seen = new Set<string>();
    for (const [language, phrases, base] of phraseListParts(name, value)) {
      phrases.forEach((phrase: unknown, i) => {
        if (typeof phrase !== 'string') {
          return;
        }
        const where = `phrases.${name}${language === '*' ? '' : `.${language}`}[${i}]`;
        const normalized = normalizeText(phrase);
        if (normalized === '') {
          at([...base, i], `${where}: "${phrase}" has no letters or digits`);
        } else if (seen.has(normalized)) {
          at([...base, i], `${where}: "${normalized}" is already in this list`);
        }
        seen.add(normalized);
      });
    }
  }
}

/**
 * The parts of a phrase list as written: [language, phrases, JSON path of the phrases];
 * language "*" for a plain list (every language).
 */
export function phraseListParts(name: string, value: unknown): Array<[string, unknown[], JsonPath]> {
  if (Array.isArray(value)) {
    return [['*', value, ['phrases', name]]];
  }
  if (!isRecord(value)) {
    return [];
  }
  return Object.entries(value)
    .filter((entry): entry is [string, unknown[]] => Array.isArray(entry[1]))
    .map(([language, phrases]) => [language, phrases, ['phrases', name, language]]);
}

function checkTemplates(data: RulesFileData, at: (path: JsonPath, message: string, opts?: { offset?: number }) => void): ParsedTemplateEntry[] {
  const out: ParsedTemplateEntry[] = [];
  for (const [name, value] of Object.entries(data.templates ?? {})) {
    const entry: ParsedTemplateEntry = { name, texts: {} };
    const texts: Array<[string, unknown, JsonPath]> =
      typeof value === 'string'
        ? [['*', value, ['templates', name]]]
        : isRecord(value)
          ? Object.entries(value)
              .filter(([l]) => l !== 'accept')
              .map(([l, t]) => [l, t, ['templates', name, l]])
          : [];
    if (isRecord(value) && texts.length === 0) {
      at(['templates', name], `templates.${name}: no text (accept: alone is not a template; give en: ...)`);
    }
    for (const [language, text, path] of texts) {
      if (typeof text !== 'string') {
        continue;
      }
      const { template, problems } = parseTemplate(text);
      for (const p of problems) {
        at(path, `templates.${name}: ${p.message}`, { offset: p.offset });
      }
      if (name === 'system-error') {
        for (const field of template.fields.filter((f) => !CLINIC_MERGE_FIELDS.has(f))) {
          at(path, `templates.system-error: {{${field}}} is not known when an error happens (use ${[...CLINIC_MERGE_FIELDS].join(', ')})`);
        }
      }
      if (text.trim() === '') {
        at(path, `templates.${name}: empty text (to send no reply, use the no-reply action)`);
      }
      entry.texts[language] = { text, parsed: template };
    }
    out.push(entry);
  }
  return out;
}

function checkEvent(rule: RuleData, base: JsonPath, at: (path: JsonPath, message: string) => void): void {
  const where = `${base[0]}[${base[1]}].event`;
  const action = getAction(rule.event.type);
  if (!action) {
    at([...base, 'event', 'type'], `${where}.type: unknown action "${rule.event.type}"${didYouMean(rule.event.type, ACTIONS.keys())} (actions: ${[...ACTIONS.keys()].join(', ')})`);
    return;
  }
  for (const param of ['priority', 'reason'] as const) {
    if (isRecord(rule.event.params) && rule.event.params[param] !== undefined && action.name !== 'route-to-staff') {
      at([...base, 'event', 'params', param], `${where}.params.${param}: only route-to-staff takes a ${param} (this rule's action is ${action.name})`);
    }
  }
  const reply: unknown = isRecord(rule.event.params) ? rule.event.params.reply : undefined;
  if (reply === undefined) {
    return;
  }
  if (action.name === 'no-reply') {
    at([...base, 'event', 'params', 'reply'], `${where}.params.reply: the no-reply action sends no reply`);
    return;
  }
  if (isRecord(reply)) {
    for (const outcome of Object.keys(reply)) {
      if (outcome !== 'default' && !action.outcomes.includes(outcome)) {
        at(
          [...base, 'event', 'params', 'reply', outcome],
          `${where}.params.reply: "${outcome}" is not an outcome of ${action.name} (${[...action.outcomes, 'default'].join(', ')})`,
        );
      }
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sortFindings(result: ParsedRulesFile): ParsedRulesFile {
  result.findings.sort((a, b) => a.line - b.line || a.col - b.col);
  return result;
}
