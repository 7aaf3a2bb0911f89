/**
 * YAML parser errors in plain words. One bad indent makes the parser report several errors
 * that follow from the first; an admin needs the first one, said the way they would fix it.
 */

/** What a parser error (yaml's YAMLError: code, message, pos) means, in words an admin can act on. */
export function plainYamlMessage(err: { code: string; message: string }): string {
  const raw = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'YAML syntax error';
  switch (err.code) {
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return `bad indentation: the next line is indented further than this one, so it is read as part of this value; line up the keys of one map (and the "-" of one list) at the same column (${raw})`;
    case 'BAD_INDENT':
      return raw.startsWith('Flow')
        ? `a [ ... ] or { ... } is not closed before the next line: close it on this line (${raw})`
        : `bad indentation: this line does not line up with the lines of its level; the keys of one map (and the "-" of one list) start at the same column (${raw})`;
    case 'TAB_AS_INDENT':
      return `a tab is used to indent: YAML needs spaces (${raw})`;
    case 'MISSING_CHAR':
      return raw.includes('quote') ? `a quoted text is not closed: add the closing quote (${raw})` : `something is missing here, such as the ":" after a key (${raw})`;
    case 'DUPLICATE_KEY':
      return `this key is written twice in one map: keep one (${raw})`;
    case 'UNEXPECTED_TOKEN':
      return `this does not fit where it stands: check the indentation, and the "-" or ":" before it (${raw})`;
    default:
      return raw;
  }
}

/** The first error (by position) of a parsed document, and how many more the parser reported after it. */
export function firstYamlError<E extends { pos: [number, number] }>(errors: readonly E[]): { first: E; more: number } | null {
  const sorted = [...errors].sort((a, b) => a.pos[0] - b.pos[0]);
  const first = sorted[0];
  return first ? { first, more: sorted.length - 1 } : null;
}
