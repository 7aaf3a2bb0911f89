import { ownString } from './own-string.js';

/**
 * A deep copy of stored data: plain objects, arrays, Dates and primitives, which is all the
 * domain records hold. structuredClone does the same through V8's serializer at several
 * times the cost; the embedded store copies on every read and write, so the difference shows
 * per message. Anything else (a Map, a class instance) is a programming error and throws,
 * rather than being copied wrongly.
 */
export function cloneData<T>(value: T): T {
  return copy(value, false) as T;
}

/**
 * A deep copy for keeping: as cloneData, and every string is its own (ownString), so what the
 * store keeps never holds on to the request body a field was cut from.
 */
export function keepData<T>(value: T): T {
  return copy(value, true) as T;
}

function copy(value: unknown, own: boolean): unknown {
  if (typeof value === 'string') {
    return own ? ownString(value) : value;
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i += 1) {
      out[i] = copy(value[i], own);
    }
    return out;
  }
  if (value instanceof Date) {
    return new Date(value.getTime());
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`cloneData: cannot copy a ${(value as object).constructor?.name ?? 'non-plain object'}`);
  }
  // Like structuredClone: a plain object out (also for a null-prototype one in), undefined values kept.
  const out: Record<string, unknown> = {};
  // for-in with an own-property check: no key array per object (plain data has no inherited enumerables).
  for (const key in value) {
    if (!Object.hasOwn(value, key)) {
      continue;
    }
    const v = copy((value as Record<string, unknown>)[key], own);
    if (key === '__proto__') {
      // A form field may be called __proto__: it stays an own property, never the prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      out[key] = v;
    }
  }
  return out;
}
