import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isSeq, isMap } from 'yaml';
import { WEEKDAYS, type SourcePosition } from '../domain.js';
import { AppError, errorCode, fileFinding, type Finding } from '../errors.js';
import { formatPath, parseYamlSource, type JsonPath, type YamlSource } from './yaml-source.js';

/**
 * The one loader of the YAML configuration files (rules files, clinics file, keys file,
 * staff file): YAML with positions (yaml-source.ts), a JSON Schema checked by ajv, and every
 * schema error turned into a finding at file:line:col. Only checks across entries (a number
 * two clinics claim, a key listed twice) stay in the files' own code.
 *
 * A schema node may carry `message`, the words an admin reads when that node is wrong: one
 * text for any error there, or texts by ajv keyword (`{ type: ..., additionalProperties: ...,
 * default: ... }`). `{value}` stands for the value found and `{name}` for the field an error
 * names (the unknown one, the missing one). A missing required field is reported at its map
 * with the field's own message; an unknown field at its key.
 */

/** Words for a schema node's errors: one text, or texts by ajv keyword (plus `default`). */
export type SchemaMessage = string | Readonly<Record<string, string>>;

// strictRequired off: a oneOf branch requires a field its parent's properties define (the staff file's email or emailDomain).
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, verbose: true });
ajv.addKeyword({ keyword: 'message', schemaType: ['string', 'object'] });
ajv.addFormat('time-zone', { type: 'string', validate: isTimeZone });
ajv.addFormat('date', { type: 'string', validate: isDate });
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(new Date(s).getTime()) });
ajv.addFormat('http-url', { type: 'string', validate: isHttpUrl });
ajv.addFormat('weekday', { type: 'string', validate: (s: string) => (WEEKDAYS as readonly string[]).includes(s.toLowerCase()) });

/**
 * Compiles a schema once, with the loader's keywords (`message`) and formats (`time-zone`,
 * `date`, `date-time`, `http-url`).
 * @param schema - a JSON Schema
 */
export function compileSchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

/** How one kind of file is named in messages ("clinics file"). */
export interface LoadOptions {
  /** "clinics file", "keys file", ...: in "invalid clinics file <path>" and "cannot read clinics file <path>". */
  what: string;
}

/**
 * Reads a configuration file's text. A missing file gives null when `missingOk`; any other
 * read problem throws CONFIG_INVALID naming the file.
 * @param path - the file
 */
export async function readConfigText(path: string, options: LoadOptions & { missingOk?: boolean }): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if (options.missingOk === true && errorCode(cause) === 'ENOENT') {
      return null;
    }
    throw new AppError('CONFIG_INVALID', `cannot read ${options.what} ${path}`, {
      cause,
      findings: [fileFinding(path, `cannot read: ${(cause as Error).message}`)],
    });
  }
}

/**
 * Parses a configuration file's YAML keeping positions; a syntax error throws CONFIG_INVALID
 * at its file:line:col (only the first: one bad indent makes the parser report several).
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function parseConfigYaml(text: string, file: string, options: LoadOptions): YamlSource {
  const source = parseYamlSource(text, file);
  if (source.syntaxFindings.length > 0) {
    throw configInvalid(file, source.syntaxFindings, options);
  }
  return source;
}

/** The one CONFIG_INVALID a file's findings make, sorted by position. */
export function configInvalid(file: string, findings: Finding[], options: LoadOptions): AppError {
  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  return new AppError('CONFIG_INVALID', `invalid ${options.what} ${file}`, { findings });
}

/**
 * The list a file holds at its top (a list, or a map with a `key` list).
 * @returns the list and its path; `empty` for an empty file (or a map without the key, when
 * `absentOk`); null when the top is something else
 */
export function topList(source: YamlSource, key: string, absentOk = false): { items: unknown[]; path: JsonPath } | 'empty' | null {
  const contents = source.doc.contents;
  if (contents === null || source.data === null || source.data === undefined) {
    return 'empty';
  }
  if (isSeq(contents)) {
    return { items: source.data as unknown[], path: [] };
  }
  if (isMap(contents)) {
    const list = (source.data as Record<string, unknown>)[key];
    if (Array.isArray(list)) {
      return { items: list, path: [key] };
    }
    if (absentOk && (list === undefined || list === null)) {
      return 'empty';
    }
  }
  return null;
}

/** What an `explain` hook gets beside the error: the file, all errors, and the error's place. */
export interface ErrorContext {
  source: YamlSource;
  errors: readonly ErrorObject[];
  path: JsonPath;
  /** The place in words, e.g. `rules[2].event` (empty for the file itself). */
  where: string;
}

export interface SchemaCheck {
  /** Where `data` sits in the file (default: the whole file). */
  path?: JsonPath;
  /** The name messages give that place (default: the path, e.g. `staff[0]`). */
  label?: string;
  /** The value to check (default: the file's data). */
  data?: unknown;
  /**
   * Words for an error the schema's `message`s do not cover: a text, null to leave the error
   * out, undefined for the loader's own words.
   */
  explain?: (err: ErrorObject, context: ErrorContext) => Finding | null | undefined;
}

/**
 * Checks a file (or one entry of it) against a compiled schema.
 * @returns a finding (file:line:col) for every schema error, one per place and message
 */
export function schemaFindings(source: YamlSource, validate: ValidateFunction, check: SchemaCheck = {}): Finding[] {
  const base = check.path ?? [];
  const data = 'data' in check ? check.data : source.data;
  if (validate(data)) {
    return [];
  }
  const errors = validate.errors ?? [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    const rel = pointerPath(err.instancePath);
    const path = [...base, ...rel];
    const label = check.label ?? formatPath(base);
    const where = joinLabel(label, formatPath(rel));
    const inBranch = /\/(anyOf|oneOf)\//.test(err.schemaPath);
    let out = inBranch ? undefined : fromMessage(source, err, path, where);
    if (out === undefined && check.explain) {
      out = check.explain(err, { source, errors, path, where });
    }
    if (out === undefined) {
      out = defaultFinding(source, err, path, where);
    }
    if (out) {
      const key = `${out.line}:${out.col}:${out.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        findings.push(out);
      }
    }
  }
  return findings;
}

/** The finding a schema node's own `message` gives (null: none, another error says it), if it has one for this error. */
function fromMessage(source: YamlSource, err: ErrorObject, path: JsonPath, where: string): Finding | null | undefined {
  const parent = err.parentSchema as { message?: SchemaMessage; properties?: Record<string, { message?: SchemaMessage }> } | undefined;
  const pick = (message: SchemaMessage | undefined, keyword: string): string | undefined =>
    typeof message === 'string' ? message : (message?.[keyword] ?? message?.['default']);
  const params = err.params as { missingProperty?: string; additionalProperty?: string; propertyName?: string; property?: string };
  switch (err.keyword) {
    case 'required': {
      const name = String(params.missingProperty);
      const own = pick(parent?.properties?.[name]?.message, 'required');
      const text = own ?? pick(parent?.message, 'required');
      return text === undefined ? undefined : source.findingAt(path, said(own === undefined ? where : joinLabel(where, name), fill(text, undefined, name)));
    }
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const text = typeof parent?.message === 'object' ? parent.message['additionalProperties'] : undefined;
      return text === undefined ? undefined : source.findingAt([...path, name], said(where, fill(text, undefined, name)), { key: true });
    }
    case 'propertyNames': {
      const name = String(params.propertyName);
      const text = typeof parent?.message === 'object' ? parent.message['propertyNames'] : undefined;
      return text === undefined ? undefined : source.findingAt([...path, name], said(where, fill(text, undefined, name)), { key: true });
    }
    case 'dependencies': {
      const text = pick(parent?.message, 'dependencies');
      return text === undefined ? undefined : source.findingAt([...path, String(params.property)], said(where, fill(text, undefined, String(params.property))));
    }
    default: {
      if (err.propertyName !== undefined) {
        // Inside propertyNames: the propertyNames error itself says it.
        return null;
      }
      const text = pick(parent?.message, err.keyword);
      return text === undefined ? undefined : source.findingAt(path, said(where, fill(text, err.data, undefined)));
    }
  }
}

/** The loader's own words for an error no `message` covers. */
function defaultFinding(source: YamlSource, err: ErrorObject, path: JsonPath, where: string): Finding | null {
  const at = where || 'file';
  const params = err.params as { missingProperty?: string; additionalProperty?: string; propertyName?: string };
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      return source.findingAt([...path, extra], `${at}: unknown field "${extra}"`, { key: true });
    }
    case 'required':
      return source.findingAt(path, `${at}: missing required field "${String(params.missingProperty)}"`);
    case 'propertyNames': {
      const name = String(params.propertyName);
      return source.findingAt([...path, name], `${at}: "${name}" is not a valid name here`, { key: true });
    }
    default:
      // An error inside one branch of anyOf/oneOf: the anyOf/oneOf error says it once.
      if (/\/(anyOf|oneOf)\//.test(err.schemaPath) || err.propertyName !== undefined) {
        return null;
      }
      return source.findingAt(path, `${at}: ${err.message ?? 'invalid'}`);
  }
}

function said(where: string, text: string): string {
  return where === '' ? text : `${where}: ${text}`;
}

function fill(text: string, value: unknown, name: string | undefined): string {
  return text.replace(/\{value\}/g, () => String(value)).replace(/\{name\}/g, () => name ?? '');
}

function joinLabel(label: string, rest: string): string {
  if (label === '') {
    return rest;
  }
  if (rest === '') {
    return label;
  }
  return rest.startsWith('[') ? `${label}${rest}` : `${label}.${rest}`;
}

function pointerPath(pointer: string): JsonPath {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The file:line:col of the value at `path` (or its nearest parent). */
export function positionOf(source: YamlSource, path: JsonPath): SourcePosition {
  const { file, line, col } = source.findingAt(path, '');
  return { file, line, col };
}

/** True when `tz` is an IANA time zone this Node knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isDate(text: unknown): text is string {
  const m = typeof text === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) : null;
  if (!m) {
    return false;
  }
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** True for an http(s) URL without credentials. */
function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}
