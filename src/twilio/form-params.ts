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

/**
 * Parses a form body as WHATWG application/x-www-form-urlencoded parsing does (the same
 * pairs URLSearchParams yields: no nesting, no arrays, no dots). Twilio's bodies are split
 * and decoded directly; a body whose escapes decodeURIComponent refuses (malformed UTF-8,
 * a stray %) goes through URLSearchParams, which replaces what it cannot decode.
 */
export function parseForm(body: string): FormParams {
  const values: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  const repeated: string[] = [];
  const add = (key: string, value: string): void => {
    const list = values[key];
    if (list) {
      list.push(value);
      if (list.length === 2) {
        repeated.push(key);
      }
    } else {
      values[key] = [value];
    }
  };
  const pairs = splitPairs(body);
  if (pairs) {
    for (let i = 0; i < pairs.length; i += 2) {
      add(pairs[i] as string, pairs[i + 1] as string);
    }
  } else {
    for (const [key, value] of new URLSearchParams(body)) {
      add(key, value);
    }
  }
  return { values, repeated };
}

/** Keys and values, alternating; null when a part needs URLSearchParams' lenient decoding. */
function splitPairs(body: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('&', start);
    if (end === -1) {
      end = body.length;
    }
    if (end > start) {
      const eq = body.indexOf('=', start);
      const split = eq === -1 || eq > end ? end : eq;
      const key = decodePart(body.slice(start, split));
      const value = split === end ? '' : decodePart(body.slice(split + 1, end));
      if (key === null || value === null) {
        return null;
      }
      out.push(key, value);
    }
    start = end + 1;
  }
  return out;
}

function decodePart(part: string): string | null {
  const spaced = part.includes('+') ? part.replaceAll('+', ' ') : part;
  if (!spaced.includes('%')) {
    return spaced;
  }
  try {
    return decodeURIComponent(spaced);
  } catch {
    return null;
  }
}

/**
 * The params as twilio's validateRequest wants them (repeated keys as arrays, as Twilio would
 * sign them), in a null-prototype object: in a plain one, `out.__proto__ = 'x'` is silently
 * dropped, and a `__proto__` parameter would be outside the signature.
 */
export function toSignatureParams(form: FormParams): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const key in form.values) {
    const list = form.values[key] as string[];
    out[key] = list.length === 1 ? (list[0] as string) : [...list];
  }
  return out;
}

/** True when `body` is what parseForm returns (the body parser left a form). */
export function isFormParams(body: unknown): body is FormParams {
  return typeof body === 'object' && body !== null && 'values' in body && 'repeated' in body;
}

/** A value for koa-bodyparser's `qs` option: co-body calls `qs.parse(text)`. */
export const flatQs = { parse: (text: string): FormParams => parseForm(text) };
