import { AppError } from './errors.js';

/** What makes a staff-written text unfit to store or send. */
export type TextProblemKind = 'control character' | 'bidirectional override' | 'invalid UTF-16';

export interface TextProblem {
  kind: TextProblemKind;
  /** The offending UTF-16 code unit (for a lone surrogate, the surrogate). */
  codePoint: number;
  /** Where it is, in UTF-16 code units from the start. */
  index: number;
}

/**
 * C0 controls but tab and newline, DEL and the C1 controls; the bidirectional embeddings,
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069: the "Trojan Source" characters, which
 * reorder what a reader sees); any surrogate (a well-formed pair is skipped before this runs).
 * A carriage return is a newline only as part of CRLF, which browsers send from a textarea.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is this expression's job
const SUSPECT = /\r\n|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g;

/**
 * The first problem of a staff-written text (note, reply, assignee, a composer's draft), or
 * null when it is fit to store and send. The text itself is never rewritten. A patient's own
 * text is never checked: it is kept as sent and escaped wherever it is shown.
 * @param text - the text as received
 */
export function findTextProblem(text: string): TextProblem | null {
  for (const match of text.matchAll(SUSPECT)) {
    const unit = match[0];
    if (unit === '\r\n' || unit.length === 2) {
      continue;
    }
    const codePoint = unit.charCodeAt(0);
    const index = match.index;
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
      return { kind: 'invalid UTF-16', codePoint, index };
    }
    if ((codePoint >= 0x202a && codePoint <= 0x202e) || (codePoint >= 0x2066 && codePoint <= 0x2069)) {
      return { kind: 'bidirectional override', codePoint, index };
    }
    return { kind: 'control character', codePoint, index };
  }
  return null;
}

const hex = (n: number): string => `U+${n.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Refuses a staff-written text with a problem (findTextProblem): BAD_REQUEST (400) with a
 * reason that names the field, the kind and the character, e.g. `text contains a control
 * character (U+001B) at position 4`. The staff API and the staff pages' composer share it.
 * @param field - the field's name as the caller knows it
 * @param text - the text as received
 */
export function requireCleanText(field: string, text: string): void {
  const problem = findTextProblem(text);
  if (!problem) {
    return;
  }
  const what = problem.kind === 'invalid UTF-16' ? `invalid UTF-16 (a lone surrogate ${hex(problem.codePoint)})` : `a ${problem.kind} (${hex(problem.codePoint)})`;
  throw new AppError('BAD_REQUEST', `${field} contains ${what} at position ${problem.index}`);
}
