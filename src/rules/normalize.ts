/**
 * Text normalization shared by the keyword facts and the keyword vocabulary, so a
 * variant written in YAML ("Opt-Out", "sí") and a message ("  opt out!! ", "SI")
 * meet in the same form.
 */

/**
 * Upper-cases, strips accents and every character that is not a letter, digit or
 * space, and collapses spaces. "  ¡Sí, confirmo! " becomes "SI CONFIRMO".
 * @param text - any text
 */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, '')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** The normalized words of `text` (empty list for an empty or punctuation-only text). */
export function normalizedWords(text: string): string[] {
  const normalized = normalizeText(text);
  return normalized === '' ? [] : normalized.split(' ');
}
