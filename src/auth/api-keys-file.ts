import { stringify } from 'yaml';
import { compileSchema, configInvalid, parseConfigYaml, readConfigText, schemaFindings, topList } from '../config/config-file.js';
import type { Finding } from '../errors.js';
import { KEY_ID, SCOPES, type ApiKey, type Scope } from './api-key.js';

const WHAT = { what: 'keys file' };
const TIME = { type: 'string', format: 'date-time', message: 'expected an ISO 8601 time' };

/** JSON Schema of one key of KEYS_FILE (an id or a key listed twice, and the demo key in production, are checked in parseKeysFile). */
export const KEY_SCHEMA = {
  type: 'object',
  required: ['id', 'clinicId', 'name', 'scopes', 'sha256', 'createdAt'],
  additionalProperties: false,
  message: { type: 'expected a map' },
  properties: {
    id: { type: 'string', pattern: KEY_ID.source, message: 'required, lower-case letters, digits and dashes' },
    clinicId: { type: 'string', minLength: 1, message: 'required' },
    name: { type: 'string', pattern: '\\S', message: 'required text' },
    scopes: {
      type: 'array',
      minItems: 1,
      message: `a list of ${SCOPES.join(', ')}`,
      items: { enum: SCOPES, message: `"{value}" is not a scope (${SCOPES.join(', ')})` },
    },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', message: "the key's SHA-256, 64 lower-case hex digits" },
    createdAt: { ...TIME, message: 'required ISO 8601 time' },
    revoked: { type: 'boolean', message: 'expected true or false' },
    revokedAt: TIME,
    expiresAt: TIME,
  },
} as const;

let validateKey: ReturnType<typeof compileSchema> | undefined;

/**
 * SHA-256 of the demo key the README shows (`npm start` accepts it for the demo clinic).
 * Anyone can read it, so a keys file holding it is refused when NODE_ENV=production.
 */
export const DEMO_KEY = 'csk.demo-downtown.local-demo-key-never-in-production';
export const DEMO_KEY_SHA256 = '1722538438b6f057d518f5a7a0b764aa1f1496863c124f0360c4efc65edefffe';

export interface ParseKeysOptions {
  /** Refuse the demo key. */
  production?: boolean;
}

/**
 * Parses and validates a keys file (a list, or a map with a `keys` list) with the
 * configuration loader and KEY_SCHEMA. Collects every problem and throws one CONFIG_INVALID
 * whose findings name file:line:col.
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function parseKeysFile(text: string, file: string, options: ParseKeysOptions = {}): ApiKey[] {
  const source = parseConfigYaml(text, file, WHAT);
  const list = topList(source, 'keys', true);
  if (list === 'empty') {
    return [];
  }
  if (list === null) {
    throw configInvalid(file, [source.findingAt([], 'expected a list of keys, or a map with a "keys" list')], WHAT);
  }
  validateKey ??= compileSchema(KEY_SCHEMA);
  const findings: Finding[] = [];
  const keys: ApiKey[] = [];
  const ids = new Set<string>();
  const hashes = new Set<string>();
  list.items.forEach((raw, index) => {
    const path = [...list.path, index];
    const where = `keys[${index}]`;
    const own = schemaFindings(source, validateKey as ReturnType<typeof compileSchema>, { path, label: where, data: raw });
    findings.push(...own);
    if (own.length > 0) {
      return;
    }
    // Across keys: an id and a key only once; and the README's demo key never in production.
    const entry = raw as { id: string; clinicId: string; name: string; scopes: Scope[]; sha256: string; createdAt: string; revoked?: boolean; revokedAt?: string; expiresAt?: string };
    const before = findings.length;
    if (ids.has(entry.id)) {
      findings.push(source.findingAt([...path, 'id'], `${where}.id: "${entry.id}" is used by another key`));
    }
    if (hashes.has(entry.sha256)) {
      findings.push(source.findingAt([...path, 'sha256'], `${where}.sha256: the same key is listed twice`));
    } else if (options.production === true && entry.sha256 === DEMO_KEY_SHA256) {
      findings.push(source.findingAt([...path, 'sha256'], `${where}: the demo key from the README is refused when NODE_ENV=production`));
    }
    if (findings.length > before) {
      return;
    }
    ids.add(entry.id);
    hashes.add(entry.sha256);
    keys.push({
      id: entry.id,
      clinicId: entry.clinicId,
      name: entry.name.trim(),
      scopes: [...new Set(entry.scopes)],
      sha256: entry.sha256,
      createdAt: new Date(entry.createdAt),
      revoked: entry.revoked ?? false,
      ...(entry.revokedAt === undefined ? {} : { revokedAt: new Date(entry.revokedAt) }),
      ...(entry.expiresAt === undefined ? {} : { expiresAt: new Date(entry.expiresAt) }),
    });
  });
  if (findings.length > 0) {
    throw configInvalid(file, findings, WHAT);
  }
  return keys;
}

/**
 * Reads KEYS_FILE. A missing file is no keys (the staff API then refuses every request
 * with 401); an unreadable or invalid one throws CONFIG_INVALID with positions.
 * @param path - the file
 */
export async function loadKeysFile(path: string, options: ParseKeysOptions = {}): Promise<{ keys: ApiKey[]; missing: boolean }> {
  const text = await readConfigText(path, { ...WHAT, missingOk: true });
  return text === null ? { keys: [], missing: true } : { keys: parseKeysFile(text, path, options), missing: false };
}

/** The file text for a list of keys (for `clinic-sms keys create|revoke`, which rewrite the file). */
export function renderKeysFile(keys: readonly ApiKey[]): string {
  const header = '# Staff API keys (KEYS_FILE). Only SHA-256 digests: a key is shown once, when made.\n';
  return header + stringify({ keys: keys.map((k) => ({ ...k, createdAt: k.createdAt.toISOString(), ...(k.revokedAt ? { revokedAt: k.revokedAt.toISOString() } : {}), ...(k.expiresAt ? { expiresAt: k.expiresAt.toISOString() } : {}) })) });
}

/**
 * The revocations a keys file holds, read line by line so that a file YAML cannot parse still
 * yields them: the ids of list items that say `revoked: true` (or carry `revokedAt`). Used
 * only when the file is invalid, to apply them to the last good keys.
 * @param text - the file's content
 */
export function revocationsIn(text: string): string[] {
  const revoked: string[] = [];
  let id: string | null = null;
  let isRevoked = false;
  const close = (): void => {
    if (id !== null && isRevoked && !revoked.includes(id)) {
      revoked.push(id);
    }
    id = null;
    isRevoked = false;
  };
  const lines = text.split(/\r?\n/);
  // The keys are the list items at the shallowest dash; deeper dashes are their scopes.
  const itemIndent = Math.min(...lines.filter((l) => /^\s*-(\s|$)/.test(l)).map((l) => l.length - l.trimStart().length));
  for (const line of lines) {
    if (/^\s*-(\s|$)/.test(line) && line.length - line.trimStart().length === itemIndent) {
      close();
    }
    for (const part of line.replace(/^\s*-\s*/, '').replace(/^\{|\}\s*$/g, '').split(/,\s*(?=[A-Za-z]+\s*:)/)) {
      const field = /^\s*([A-Za-z]+)\s*:\s*["']?([^"'#]*?)["']?\s*(#.*)?$/.exec(part);
      if (!field) {
        continue;
      }
      const [, name, raw = ''] = field;
      if (name === 'id' && KEY_ID.test(raw)) {
        id = raw;
      } else if ((name === 'revoked' && /^(true|yes|on)$/i.test(raw)) || (name === 'revokedAt' && raw !== '')) {
        isRevoked = true;
      }
    }
  }
  close();
  return revoked;
}
