/**
 * A copy of `s` that shares no memory with a longer string it was cut from. V8 makes a
 * substring of 13 or more characters a view into its parent: a MessageSid read from a form
 * body keeps the whole body alive. The embedded store holds its keys and records for as long
 * as its bound allows, so what it keeps is copied once, on the way in. UTF-8 when the text
 * is well-formed (one byte a character for ASCII), UTF-16 otherwise (lone surrogates survive).
 * @param s - any string
 */
export function ownString(s: string): string {
  if (s.length < 13) {
    return s;
  }
  return (s as string & { isWellFormed(): boolean }).isWellFormed() ? Buffer.from(s, 'utf8').toString('utf8') : Buffer.from(s, 'utf16le').toString('utf16le');
}
