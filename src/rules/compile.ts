import { createHash } from 'node:crypto';
import type { Clinic } from '../domain.js';
import type { ActionParams } from '../actions/index.js';
import type { Finding } from '../errors.js';
import { normalizeText } from './normalize.js';
import { hasPhrase, type PhraseEntry, type PhraseList } from './phrases.js';
import type { CompiledQuickReply } from './quick-replies.js';
import { REVOCATION_LISTS } from './revocation.js';
import { DEFAULT_SETTINGS, phraseListParts, type ParsedRule, type ParsedRulesFile, type ReplySpec, type RulesFileData, type RulesSettings } from './rules-file.js';
import { didYouMean } from './suggest.js';
import type { ParsedTemplate } from './templates.js';

export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** One rule, ready to hand to a fresh json-rules-engine Engine (deep-frozen; cloned per message). */
export interface CompiledRule {
  readonly name: string;
  readonly priority: number;
  readonly halt: boolean;
  readonly description: string | undefined;
  /** The action (event type). */
  readonly action: string;
  readonly reply: ReplySpec | null;
  /** The event's other parameters (route-to-staff: priority, reason). */
  readonly params: Readonly<ActionParams>;
  /** json-rules-engine rule properties. */
  readonly definition: Readonly<{ name: string; priority: number; conditions: unknown; event: { type: string } }>;
  /** Keyword index keys the message must have one of; null: always run. */
  readonly requires: readonly string[] | null;
  readonly facts: readonly string[];
  readonly source: SourcePosition;
}

export interface CompiledTemplate {
  readonly name: string;
  /** By language; "*" serves every language. */
  readonly texts: Readonly<Record<string, ParsedTemplate>>;
  readonly source: SourcePosition;
}

export interface VocabularyEntry {
  readonly command: string;
  readonly language: string;
}

export interface CompiledRules {
  clinicId: string;
  /** Content hash of the files and the clinic's languages. */
  version: string;
  clinic: Clinic;
  /** Highest priority first; equal priorities in file order (default rules, then the clinic's). */
  rules: readonly CompiledRule[];
  /** Keyword index: rule positions in `rules` by "command:X" / "keyword:X", and those that always run. */
  index: { byKey: ReadonlyMap<string, readonly number[]>; always: readonly number[] };
  templates: ReadonlyMap<string, CompiledTemplate>;
  /** Normalized phrase (one or more words) to keyword, for the clinic's languages (English always). */
  vocabulary: ReadonlyMap<string, VocabularyEntry>;
  maxPhraseWords: number;
  /** Every keyword name defined, in any language. */
  commands: ReadonlySet<string>;
  /**
   * Named phrase lists (`phrases:`), both files' phrases added up, only those of the clinic's
   * languages (a plain list counts for every language). Matched with phrases.ts.
   */
  phraseLists: ReadonlyMap<string, PhraseList>;
  languages: readonly string[];
  files: readonly string[];
  /** Rules the clinic file disabled. */
  disabled: readonly string[];
  /** `settings:` of both files, the clinic's over the default's, over DEFAULT_SETTINGS. */
  settings: Readonly<RulesSettings>;
  /**
   * Templates whose sending is remembered per sender (sender.recentReplies): those a rule
   * compares sender.recentReplies with. Other replies cost no write.
   */
  rememberedReplies: ReadonlySet<string>;
  /** The front desk's quick replies: the default file's, a clinic's replacing those of the same shortcode, then the clinic's own. */
  quickReplies: readonly CompiledQuickReply[];
}

export interface CompileResult {
  rules: CompiledRules | null;
  findings: Finding[];
}

/**
 * Merges rules/default.yaml with a clinic's file and compiles the result: a clinic rule
 * with a default rule's name replaces it, `disable` removes default rules by name,
 * templates override by key, keyword variants add up. Runs the checks that need both
 * files: template and keyword names, disables that name no rule, keyword variant
 * clashes, and that STOP still opts out.
 * @param defaults - parsed rules/default.yaml
 * @param clinicFile - parsed rules/clinics/<id>.yaml, or null when the clinic has none
 * @param clinic - the clinic
 */
export function compileClinicRules(defaults: ParsedRulesFile, clinicFile: ParsedRulesFile | null, clinic: Clinic): CompileResult {
  const findings: Finding[] = [...defaults.findings, ...(clinicFile?.findings ?? [])];
  // Cross-file checks run even when a file has other errors, so every finding shows at once;
  // only YAML syntax errors leave nothing to check.
  if (defaults.unusable || clinicFile?.unusable) {
    return { rules: null, findings };
  }
  const files = [defaults, ...(clinicFile ? [clinicFile] : [])];
  const error = (file: ParsedRulesFile, path: ReadonlyArray<string | number>, message: string, key = false): void => {
    findings.push(file.source.findingAt(path, message, { key }));
  };
  const languages = [...new Set(['en', ...clinic.languages])];
  const { commands, vocabulary } = mergeKeywords(defaults, clinicFile, languages, error);
  const templates = mergeTemplates(files);
  if (!templates.has('system-error')) {
    error(defaults, ['templates'], 'templates: "system-error" is required', true);
  }
  const phraseLists = mergePhrases(files, languages);
  const { merged, disabled } = mergeRules(defaults, clinicFile, error);
  checkReferences(merged, commands, templates, error);
  checkPhraseReferences(merged, files, error);
  checkRevocationPhrases(files, vocabulary, error);
  checkStopStillOptsOut(defaults, clinicFile, merged, error);
  if (findings.some((f) => f.severity !== 'warning')) {
    return { rules: null, findings };
  }
  const rules = compileRules(merged);
  const version = createHash('sha256')
    .update([defaults.hash, clinicFile?.hash ?? '-', languages.join(',')].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const compiled: CompiledRules = {
    clinicId: clinic.id,
    version,
    clinic,
    rules,
    index: keywordIndex(rules),
    templates,
    vocabulary,
    maxPhraseWords: Math.max(1, ...[...vocabulary.keys()].map((p) => p.split(' ').length)),
    commands,
    phraseLists,
    languages,
    files: files.map((f) => f.file),
    disabled,
    settings: Object.freeze({ ...DEFAULT_SETTINGS, ...raw(defaults).settings, ...(clinicFile ? raw(clinicFile).settings : {}) }),
    rememberedReplies: rememberedReplies(rules),
    quickReplies: mergeQuickReplies(files),
  };
  return { rules: Object.freeze(compiled), findings };
}

/** Quick replies by shortcode (letter case aside): a later file's replaces an earlier one's in place. */
function mergeQuickReplies(files: readonly ParsedRulesFile[]): CompiledQuickReply[] {
  const byCode = new Map<string, CompiledQuickReply>();
  for (const file of files) {
    for (const q of file.quickReplies) {
      const at = file.source.findingAt(q.path, '');
      byCode.set(q.shortcode.toLowerCase(), Object.freeze({ shortcode: q.shortcode.toLowerCase(), texts: Object.freeze({ ...q.texts }), source: { file: at.file, line: at.line, col: at.col } }));
    }
  }
  return [...byCode.values()];
}

/** Reports an error at `path` of `file`. */
type ReportError = (file: ParsedRulesFile, path: ReadonlyArray<string | number>, message: string, key?: boolean) => void;

/** A rule of the merged set, with the file it came from. */
interface MergedRule {
  rule: ParsedRule;
  file: ParsedRulesFile;
}

/** The file's data, or, when it failed the schema, what the YAML holds (for the cross-file checks). */
function raw(file: ParsedRulesFile): RulesFileData {
  return (file.data ?? (isRecord(file.source.data) ? file.source.data : {})) as RulesFileData;
}

/** Keywords: the union of both files' variants; a phrase may belong to one keyword only. */
function mergeKeywords(
  defaults: ParsedRulesFile,
  clinicFile: ParsedRulesFile | null,
  languages: readonly string[],
  error: ReportError,
): { commands: Set<string>; vocabulary: Map<string, VocabularyEntry> } {
  const commands = new Set<string>();
  const vocabulary = new Map<string, VocabularyEntry>();
  const owner = new Map<string, string>();
  for (const file of [defaults, ...(clinicFile ? [clinicFile] : [])]) {
    const keywords = raw(file).keywords;
    for (const [command, byLanguage] of Object.entries(isRecord(keywords) ? keywords : {})) {
      commands.add(command);
      for (const [language, variants] of Object.entries(isRecord(byLanguage) ? byLanguage : {})) {
        (Array.isArray(variants) ? variants : []).forEach((variant: unknown, i) => {
          if (typeof variant !== 'string') {
            return;
          }
          const phrase = normalizeText(variant);
          const other = owner.get(phrase);
          if (other !== undefined && other !== command) {
            if (file === clinicFile) {
              error(file, ['keywords', command, language, i], `keywords.${command}.${language}[${i}]: "${phrase}" is already a variant of ${other} in ${defaults.file}`);
            }
            return;
          }
          owner.set(phrase, command);
          if (languages.includes(language)) {
            vocabulary.set(phrase, { command, language });
          }
        });
      }
    }
  }
  return { commands, vocabulary };
}

/**
 * Phrase lists by name: a clinic's list of a default list's name adds its phrases to it.
 * Phrases of a language the clinic does not list are left out (English always counts).
 */
function mergePhrases(files: readonly ParsedRulesFile[], languages: readonly string[]): Map<string, PhraseList> {
  const entries = new Map<string, PhraseEntry[]>();
  for (const file of files) {
    const phrases = raw(file).phrases;
    for (const [name, value] of Object.entries(isRecord(phrases) ? phrases : {})) {
      const list = entries.get(name) ?? [];
      entries.set(name, list);
      for (const [language, written] of phraseListParts(name, value)) {
        if (language !== '*' && !languages.includes(language)) {
          continue;
        }
        for (const w of written) {
          const phrase = typeof w === 'string' ? normalizeText(w) : '';
          if (phrase !== '' && !list.some((e) => e.phrase === phrase)) {
            list.push({ phrase, language });
          }
        }
      }
    }
  }
  return new Map([...entries].map(([name, list]) => [name, { name, entries: list }]));
}

/** Every list a containsPhraseFrom condition names is defined in one of the files. */
function checkPhraseReferences(merged: readonly MergedRule[], files: readonly ParsedRulesFile[], error: ReportError): void {
  const names = new Set(files.flatMap((f) => Object.keys(isRecord(raw(f).phrases) ? (raw(f).phrases as object) : {})));
  for (const { rule, file } of merged) {
    for (const ref of rule.analysis.phraseRefs) {
      if (!names.has(ref.value)) {
        const defined = names.size === 0 ? 'no phrases: section defines any' : `defined: ${[...names].sort().join(', ')}`;
        error(file, ref.path, `rules[${rule.index}]: unknown phrase list "${ref.value}"${didYouMean(ref.value, names)} (${defined})`);
      }
    }
  }
}

/**
 * A rule's conditions as the engine gets them: containsPhrase values normalized once here,
 * not on every message.
 */
function engineConditions(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(engineConditions);
  }
  if (!isRecord(node)) {
    return node;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'value' ? value : engineConditions(value);
  }
  const base = typeof node.operator === 'string' ? (node.operator.split(':').pop() ?? '') : '';
  if (base === 'containsPhrase') {
    out.value = Array.isArray(node.value) ? node.value.map((v) => (typeof v === 'string' ? normalizeText(v) : v)) : typeof node.value === 'string' ? normalizeText(node.value) : node.value;
  }
  return out;
}

/** Templates by key, the clinic's replacing the default's whole entry. */
function mergeTemplates(files: readonly ParsedRulesFile[]): Map<string, CompiledTemplate> {
  const templates = new Map<string, CompiledTemplate>();
  for (const file of files) {
    for (const entry of file.templates) {
      const texts: Record<string, ParsedTemplate> = {};
      for (const [language, t] of Object.entries(entry.texts)) {
        texts[language] = t.parsed;
      }
      const pos = file.source.findingAt(['templates', entry.name], '');
      templates.set(entry.name, { name: entry.name, texts, source: { file: file.file, line: pos.line, col: pos.col } });
    }
  }
  return templates;
}

/** Rules: the defaults minus those disabled, replaced by name, then the clinic's new ones. */
function mergeRules(defaults: ParsedRulesFile, clinicFile: ParsedRulesFile | null, error: ReportError): { merged: MergedRule[]; disabled: string[] } {
  const merged: MergedRule[] = defaults.rules.map((rule) => ({ rule, file: defaults }));
  const disabled: string[] = [];
  if (!clinicFile) {
    return { merged, disabled };
  }
  const disable: unknown = raw(clinicFile).disable;
  (Array.isArray(disable) ? disable : []).forEach((name: unknown, i) => {
    if (typeof name !== 'string') {
      return;
    }
    const at = merged.findIndex((m) => m.rule.data.name === name);
    if (at < 0) {
      error(clinicFile, ['disable', i], `disable[${i}]: no rule named "${name}" in ${defaults.file}`);
      return;
    }
    merged.splice(at, 1);
    disabled.push(name);
  });
  for (const rule of clinicFile.rules) {
    if (disabled.includes(rule.data.name)) {
      error(clinicFile, ['rules', rule.index, 'name'], `rules[${rule.index}].name: "${rule.data.name}" is also disabled in this file`);
      continue;
    }
    const at = merged.findIndex((m) => m.rule.data.name === rule.data.name);
    if (at >= 0) {
      merged[at] = { rule, file: clinicFile };
    } else {
      merged.push({ rule, file: clinicFile });
    }
  }
  return { merged, disabled };
}

/** Every keyword and reply template a merged rule names exists. */
function checkReferences(merged: readonly MergedRule[], commands: ReadonlySet<string>, templates: ReadonlyMap<string, CompiledTemplate>, error: ReportError): void {
  for (const { rule, file } of merged) {
    for (const ref of rule.analysis.commandRefs) {
      if (!commands.has(ref.value)) {
        error(file, ref.path, `rules[${rule.index}]: unknown keyword "${ref.value}" (defined: ${[...commands].sort().join(', ')})`);
      }
    }
    const reply = isRecord(rule.data.event) && isRecord(rule.data.event.params) ? rule.data.event.params.reply : undefined;
    if (reply !== undefined && typeof reply !== 'string' && !isRecord(reply)) {
      continue;
    }
    const names = reply === undefined ? [] : typeof reply === 'string' ? [['', reply] as const] : Object.entries(reply);
    for (const [outcome, name] of names) {
      if (typeof name === 'string' && !templates.has(name)) {
        const path = ['rules', rule.index, 'event', 'params', 'reply', ...(outcome === '' ? [] : [outcome])];
        error(file, path, `rules[${rule.index}].event.params.reply: unknown template "${name}"`);
      }
    }
  }
}

/** Words that name an appointment: a revocation phrase with one would opt out on a message about an appointment. */
const APPOINTMENT_WORDS = ['APPOINTMENT', 'APPOINTMENTS', 'APPT', 'APPTS', 'VISIT', 'VISITS', 'CITA', 'CITAS'];

/**
 * A plain-language opt-out phrase (revocation-clear, revocation-possible) must not also match
 * a keyword other than STOP, or an appointment word: "cancel my appointment" would otherwise
 * opt a patient out, and "confirm" would be taken from the CONFIRM keyword.
 */
function checkRevocationPhrases(files: readonly ParsedRulesFile[], vocabulary: ReadonlyMap<string, VocabularyEntry>, error: ReportError): void {
  const words = [...vocabulary].filter(([, v]) => v.command !== 'STOP').map(([phrase, v]) => [phrase, `the ${v.command} keyword's variant "${phrase}"`] as const);
  const checks = [...words, ...APPOINTMENT_WORDS.map((w) => [w, `the appointment word "${w}"`] as const)];
  for (const file of files) {
    const phrases = raw(file).phrases;
    for (const name of [REVOCATION_LISTS.clear, REVOCATION_LISTS.possible]) {
      const value = isRecord(phrases) ? phrases[name] : undefined;
      for (const [, written, path] of phraseListParts(name, value)) {
        written.forEach((w, i) => {
          const phrase = typeof w === 'string' ? normalizeText(w) : '';
          const clash = checks.find(([word]) => phrase !== '' && hasPhrase(phrase, word));
          if (clash) {
            error(file, [...path, i], `phrases.${name}: "${phrase}" also matches ${clash[1]}: a message about that would count as an opt-out (use a phrase without it)`);
          }
        });
      }
    }
  }
}

/** Carriers and the FCC require STOP to opt out: some merged rule must still do it. */
function checkStopStillOptsOut(defaults: ParsedRulesFile, clinicFile: ParsedRulesFile | null, merged: readonly MergedRule[], error: ReportError): void {
  const stop = merged.some(
    ({ rule }) => rule.data.event?.type === 'opt-out' && (rule.analysis.requires === null || rule.analysis.requires.includes('command:STOP')),
  );
  if (stop) {
    return;
  }
  const disable: unknown = clinicFile ? raw(clinicFile).disable : undefined;
  const disabledAt = Array.isArray(disable)
    ? disable.findIndex((n) => defaults.rules.some((r) => r.data.name === n && r.data.event?.type === 'opt-out'))
    : undefined;
  error(
    clinicFile ?? defaults,
    disabledAt !== undefined && disabledAt >= 0 ? ['disable', disabledAt] : [],
    'no rule opts out on STOP any more: carriers and the FCC require it (keep an opt-out rule matching message.command STOP)',
  );
}

/** The merged rules, highest priority first (equal priorities in file order), deep-frozen. */
function compileRules(merged: readonly MergedRule[]): CompiledRule[] {
  const ordered = merged
    .map((m, order) => ({ ...m, order }))
    .sort((a, b) => (b.rule.data.priority ?? 1) - (a.rule.data.priority ?? 1) || a.order - b.order);
  return ordered.map(({ rule, file }) => {
    const priority = rule.data.priority ?? 1;
    const pos = file.source.findingAt(['rules', rule.index], '');
    return deepFreeze({
      name: rule.data.name,
      priority,
      halt: rule.data.halt === true,
      description: rule.data.description,
      action: rule.data.event.type,
      reply: rule.data.event.params?.reply ?? null,
      params: {
        ...(rule.data.event.params?.priority === undefined ? {} : { priority: rule.data.event.params.priority }),
        ...(rule.data.event.params?.reason === undefined ? {} : { reason: rule.data.event.params.reason }),
      },
      definition: { name: rule.data.name, priority, conditions: engineConditions(rule.data.conditions), event: { type: rule.data.event.type } },
      requires: rule.analysis.requires,
      facts: [...new Set(rule.analysis.facts)],
      source: { file: file.file, line: pos.line, col: pos.col },
    });
  });
}

/** The template names rules compare sender.recentReplies with (contains, doesNotContain, in, ...). */
function rememberedReplies(rules: readonly CompiledRule[]): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
    } else if (isRecord(node)) {
      if (node.fact === 'sender.recentReplies') {
        (Array.isArray(node.value) ? node.value : [node.value]).forEach((v) => typeof v === 'string' && names.add(v));
      }
      Object.values(node).forEach(visit);
    }
  };
  rules.forEach((r) => visit(r.definition.conditions));
  return names;
}

/**
 * The keyword index: rule positions by "command:X" / "keyword:X", and those without a keyword
 * condition. A message is handed only the rules of its keyword and those: why 200 rules cost
 * about what 10 do.
 */
function keywordIndex(rules: readonly CompiledRule[]): CompiledRules['index'] {
  const byKey = new Map<string, number[]>();
  const always: number[] = [];
  rules.forEach((rule, i) => {
    if (rule.requires === null) {
      always.push(i);
      return;
    }
    for (const key of rule.requires) {
      byKey.set(key, [...(byKey.get(key) ?? []), i]);
    }
  });
  return { byKey, always };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) {
      deepFreeze(child);
    }
  }
  return value;
}
