/**
 * Phrases: words in a row, found anywhere in a message on word boundaries, after the one
 * normalization keywords use too (normalize.ts: case, accents, punctuation and spaces do
 * not matter). "chest pain" is in "I have CHEST PAIN!" but not in "chest, no pain" nor in
 * "chestpain"; "no" is not in "nothing".
 *
 * Named phrase lists (`phrases:` in a rules file) are written once and used by any number
 * of rules (`containsPhraseFrom`), and by facts built on them (message.revocation).
 */
import { normalizeText } from './normalize.js';

/** One phrase of a list, normalized, and the language it counts for ("*": every language). */
export interface PhraseEntry {
  readonly phrase: string;
  readonly language: string;
}

/** A named phrase list as compiled for one clinic: only the phrases of the clinic's languages. */
export interface PhraseList {
  readonly name: string;
  readonly entries: readonly PhraseEntry[];
}

/** What matched: the list, the phrase (normalized) and its language. */
export interface PhraseMatch {
  readonly list: string;
  readonly phrase: string;
  readonly language: string;
}

/** The operators of ours a condition may name (next to json-rules-engine's built-in ones). */
export const PHRASE_OPERATORS = ['containsPhrase', 'containsPhraseFrom'] as const;
export type PhraseOperator = (typeof PHRASE_OPERATORS)[number];

/** True when `name` (decorators left out) is one of PHRASE_OPERATORS. */
export function isPhraseOperator(name: string): name is PhraseOperator {
  return (PHRASE_OPERATORS as readonly string[]).includes(name);
}

/**
 * True when the normalized `phrase` occurs in the normalized `text` as whole words.
 * @param text - normalized text (normalizeText), e.g. the fact message.text
 * @param phrase - a normalized phrase; "" never matches
 */
export function hasPhrase(text: string, phrase: string): boolean {
  return phrase !== '' && ` ${text} `.includes(` ${phrase} `);
}

/**
 * The first entry of `list` found in `text` (list order), or null.
 * @param text - normalized text
 */
export function findPhrase(text: string, list: PhraseList): PhraseEntry | null {
  return list.entries.find((e) => hasPhrase(text, e.phrase)) ?? null;
}

/**
 * The first phrase of the lists named `names` (in that order) found in `text`, or null.
 * A name no list has matches nothing (the rules check refuses such names).
 * @param text - normalized text
 * @param lists - the clinic's compiled lists (CompiledRules.phraseLists)
 */
export function matchPhraseLists(text: string, lists: ReadonlyMap<string, PhraseList>, names: readonly string[]): PhraseMatch | null {
  for (const name of names) {
    const list = lists.get(name);
    const entry = list ? findPhrase(text, list) : null;
    if (entry) {
      return { list: name, phrase: entry.phrase, language: entry.language };
    }
  }
  return null;
}

type Compare = (factValue: unknown, jsonValue: unknown) => boolean;
const asNames = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).filter((s): s is string => typeof s === 'string');

/**
 * The two phrase operators over one clinic's lists, as json-rules-engine operators take them
 * (fact value, condition value). The fact is a normalized text (message.text); a value that
 * is not a text makes the condition false, as the built-in operators do.
 * - containsPhrase: the value is a phrase or a list of phrases (normalized when compiled);
 *   true when the text contains one of them.
 * - containsPhraseFrom: the value is a list name or a list of names; true when the text
 *   contains a phrase of one of those lists.
 * @param lists - the clinic's compiled lists
 */
export function phraseOperators(lists: ReadonlyMap<string, PhraseList>): Readonly<Record<PhraseOperator, Compare>> {
  return {
    containsPhrase: (text, value) => typeof text === 'string' && asNames(value).some((p) => hasPhrase(text, p)),
    containsPhraseFrom: (text, value) => typeof text === 'string' && matchPhraseLists(text, lists, asNames(value)) !== null,
  };
}

/**
 * A phrase as written in YAML, in the form it is matched in.
 * @param written - e.g. "Can't breathe!"
 * @returns e.g. "CANT BREATHE"
 */
export function normalizePhrase(written: string): string {
  return normalizeText(written);
}
