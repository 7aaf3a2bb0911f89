/**
 * Plain-language opt-outs (FCC 24-24: consent may be revoked "in any reasonable manner"):
 * what the message says about consent, from the clinic's phrase lists (rules YAML
 * `phrases:`, matched by src/rules/phrases.ts on the one normalizer).
 */
import { hasPhrase, type PhraseEntry, type PhraseList } from './phrases.js';

/** The phrase lists message.revocation reads. */
export const REVOCATION_LISTS = { clear: 'revocation-clear', possible: 'revocation-possible', not: 'revocation-not' } as const;

export type Revocation = 'clear' | 'possible' | 'none';

export interface RevocationReading {
  value: Revocation;
  /** The phrase that decided it, normalized (absent: none). */
  phrase?: string;
  /** Its list and language. */
  list?: string;
  language?: string;
}

/**
 * Reads a normalized message for a revocation: a phrase of revocation-clear makes it clear,
 * else one of revocation-possible makes it possible, else none. A phrase that sits inside a
 * matching revocation-not phrase does not count ("STOP" in "WONT STOP", "STOP TEXTING" in
 * "DONT STOP TEXTING"), so clinical text that merely contains a stop word never opts out.
 * @param text - the message, normalized (normalizeText)
 * @param lists - the clinic's phrase lists (CompiledRules.phraseLists)
 */
export function readRevocation(text: string, lists: ReadonlyMap<string, PhraseList>): RevocationReading {
  const not = (lists.get(REVOCATION_LISTS.not)?.entries ?? []).filter((e) => hasPhrase(text, e.phrase));
  const counts = (e: PhraseEntry): boolean => hasPhrase(text, e.phrase) && !not.some((n) => hasPhrase(n.phrase, e.phrase));
  for (const value of ['clear', 'possible'] as const) {
    const list = lists.get(REVOCATION_LISTS[value]);
    const entry = list?.entries.find(counts);
    if (list && entry) {
      return { value, phrase: entry.phrase, list: list.name, language: entry.language };
    }
  }
  return { value: 'none' };
}
