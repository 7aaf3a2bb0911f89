/**
 * A flat, hardened reading of an application/x-www-form-urlencoded body. Unlike qs (koa-bodyparser's
 * default) it never builds objects from `From[$ne]=x` or arrays from repeated keys: every key is kept
 * literally, every value is a string, and repeated keys are kept apart so the caller can refuse them.
 */
export interface FormParams {
  /** Each key with every value it had, in order. Null prototype: no `__proto__` games. */
  readonly values: Record<string, string[]>;
  /** Keys that appeared more than once. */
  readonly repeated: string[];
}

/** Parses a form body with WHATWG URLSearchParams (no nesting, no arrays, no dots). */
export function parseForm(body: string): FormParams {
  const values: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  const repeated: string[] = [];
  for (const [key, value] of new URLSearchParams(body)) {
    const list = values[key];
    if (list) {
      list.push(value);
      if (list.length === 2) {
        repeated.push(key);
      }
    } else {
      values[key] = [value];
    }
  }
  return { values, repeated };
}

/** The params as twilio's validateRequest wants them (repeated keys as arrays, as Twilio would sign them). */
export function toSignatureParams(form: FormParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, list] of Object.entries(form.values)) {
    out[key] = list.length === 1 ? (list[0] as string) : [...list];
  }
  return out;
}

/** A value for koa-bodyparser's `qs` option: co-body calls `qs.parse(text)`. */
export const flatQs = { parse: (text: string): FormParams => parseForm(text) };
