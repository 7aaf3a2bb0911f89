import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isSeq, parseDocument, stringify, type Node } from 'yaml';
import { AppError, errorCode, type Finding } from '../errors.js';
import { KEY_ID, SCOPES, type ApiKey, type Scope } from './api-key.js';

const KNOWN_KEYS = new Set(['id', 'clinicId', 'name', 'scopes', 'sha256', 'createdAt', 'revoked', 'revokedAt', 'expiresAt']);
const SHA256 = /^[0-9a-f]{64}$/;

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
 * Parses and validates a keys file (a list, or a map with a `keys` list). Collects every
 * problem and throws one CONFIG_INVALID whose findings name file:line:col.
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function parseKeysFile(text: string, file: string, options: ParseKeysOptions = {}): ApiKey[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const findings: Finding[] = [];
  const at = (node: Node | null | undefined, message: string): void => {
    const pos = lineCounter.linePos(node?.range?.[0] ?? 0);
    findings.push({ file, line: pos.line, col: pos.col, message, severity: 'error' });
  };
  for (const err of doc.errors) {
    const pos = lineCounter.linePos(err.pos[0]);
    findings.push({ file, line: pos.line, col: pos.col, message: err.message.split('\n')[0] ?? 'YAML syntax error', severity: 'error' });
  }
  const fail = (): never => {
    throw new AppError('CONFIG_INVALID', `invalid keys file ${file}`, { findings });
  };
  if (findings.length > 0) {
    fail();
  }
  const contents = doc.contents;
  const list = isSeq(contents) ? contents : isMap(contents) ? contents.get('keys', true) : contents === null ? null : undefined;
  if (list === null || (isMap(contents) && list === undefined)) {
    return [];
  }
  if (!isSeq(list)) {
    at(contents, 'expected a list of keys, or a map with a "keys" list');
    return fail();
  }
  const keys: ApiKey[] = [];
  const ids = new Set<string>();
  const hashes = new Set<string>();
  list.items.forEach((item, index) => {
    const where = `keys[${index}]`;
    if (!isMap(item)) {
      at(item as Node, `${where}: expected a map`);
      return;
    }
    const get = (key: string): Node | undefined => item.get(key, true) as Node | undefined;
    const value = (key: string): unknown => (get(key) as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? undefined;
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (!KNOWN_KEYS.has(key)) {
        at(pair.key as Node, `${where}: unknown field "${key}"`);
      }
    }
    const before = findings.length;
    const id = value('id');
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      at(get('id') ?? item, `${where}.id: required, lower-case letters, digits and dashes`);
    } else if (ids.has(id)) {
      at(get('id'), `${where}.id: "${id}" is used by another key`);
    }
    const clinicId = value('clinicId');
    if (typeof clinicId !== 'string' || clinicId === '') {
      at(get('clinicId') ?? item, `${where}.clinicId: required`);
    }
    const name = value('name');
    if (typeof name !== 'string' || name.trim() === '') {
      at(get('name') ?? item, `${where}.name: required text`);
    }
    const scopes = value('scopes');
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
      at(get('scopes') ?? item, `${where}.scopes: a list of ${SCOPES.join(', ')}`);
    }
    const sha256 = value('sha256');
    if (typeof sha256 !== 'string' || !SHA256.test(sha256)) {
      at(get('sha256') ?? item, `${where}.sha256: the key's SHA-256, 64 lower-case hex digits`);
    } else if (hashes.has(sha256)) {
      at(get('sha256'), `${where}.sha256: the same key is listed twice`);
    } else if (options.production && sha256 === DEMO_KEY_SHA256) {
      at(get('sha256'), `${where}: the demo key from the README is refused when NODE_ENV=production`);
    }
    const createdAt = value('createdAt');
    const created = typeof createdAt === 'string' ? new Date(createdAt) : createdAt instanceof Date ? createdAt : null;
    if (!created || Number.isNaN(created.getTime())) {
      at(get('createdAt') ?? item, `${where}.createdAt: required ISO 8601 time`);
    }
    const revoked = value('revoked') ?? false;
    if (typeof revoked !== 'boolean') {
      at(get('revoked'), `${where}.revoked: expected true or false`);
    }
    const revokedAtValue = value('revokedAt');
    const revokedAt = typeof revokedAtValue === 'string' ? new Date(revokedAtValue) : revokedAtValue instanceof Date ? revokedAtValue : undefined;
    if (revokedAtValue !== undefined && (!revokedAt || Number.isNaN(revokedAt.getTime()))) {
      at(get('revokedAt'), `${where}.revokedAt: expected an ISO 8601 time`);
    }
    const expiresAtValue = value('expiresAt');
    const expiresAt = typeof expiresAtValue === 'string' ? new Date(expiresAtValue) : expiresAtValue instanceof Date ? expiresAtValue : undefined;
    if (expiresAtValue !== undefined && (!expiresAt || Number.isNaN(expiresAt.getTime()))) {
      at(get('expiresAt'), `${where}.expiresAt: expected an ISO 8601 time`);
    }
    if (findings.length === before) {
      ids.add(id as string);
      hashes.add(sha256 as string);
      keys.push({
        id: id as string,
        clinicId: clinicId as string,
        name: (name as string).trim(),
        scopes: [...new Set(scopes as Scope[])],
        sha256: sha256 as string,
        createdAt: created as Date,
        revoked: revoked as boolean,
        ...(revokedAt ? { revokedAt } : {}),
        ...(expiresAt ? { expiresAt } : {}),
      });
    }
  });
  if (findings.length > 0) {
    findings.sort((a, b) => a.line - b.line || a.col - b.col);
    fail();
  }
  return keys;
}

/**
 * Reads KEYS_FILE. A missing file is no keys (the staff API then refuses every request
 * with 401); an unreadable or invalid one throws CONFIG_INVALID with positions.
 * @param path - the file
 */
export async function loadKeysFile(path: string, options: ParseKeysOptions = {}): Promise<{ keys: ApiKey[]; missing: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (errorCode(cause) === 'ENOENT') {
      return { keys: [], missing: true };
    }
    throw new AppError('CONFIG_INVALID', `cannot read keys file ${path}`, {
      cause,
      findings: [{ file: path, line: 1, col: 1, message: `cannot read: ${(cause as Error).message}`, severity: 'error' }],
    });
  }
  return { keys: parseKeysFile(text, path, options), missing: false };
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
