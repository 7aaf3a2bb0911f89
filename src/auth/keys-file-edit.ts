import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Document, isMap, isScalar, isSeq, parseDocument, Scalar, YAMLSeq, type YAMLMap } from 'yaml';
import { AppError, errorCode } from '../errors.js';
import type { ApiKey } from './api-key.js';
import { parseKeysFile } from './api-keys-file.js';

const HEADER = ' Staff API keys (KEYS_FILE). Only SHA-256 digests: a key is shown once, when made.\n Managed with `clinic-sms keys create|list|revoke`; a running server reloads this file on change.';

/** What an edit sees: the document (comments and order kept) and the keys it holds now. */
export interface KeysFileEdit<T> {
  (doc: Document, list: YAMLSeq, keys: readonly ApiKey[]): T;
}

/**
 * Reads KEYS_FILE (a missing file is an empty one), lets `edit` change the YAML document in
 * place, checks the result parses as a keys file, and replaces the file atomically: a temp
 * file in the same folder, fsync, rename. Editing the document rather than re-rendering the
 * keys keeps the operator's comments, order and layout. A `<file>.lock` made with O_EXCL
 * keeps two commands from losing each other's edit; the server never takes it (it only reads,
 * and a rename is never seen half done).
 * @param file - the keys file
 * @param edit - changes the document; what it returns is returned
 */
export async function editKeysFile<T>(file: string, edit: KeysFileEdit<T>): Promise<T> {
  const lock = `${file}.lock`;
  await mkdir(dirname(file), { recursive: true });
  const held = await open(lock, 'wx', 0o600).catch((err: unknown) => {
    if (errorCode(err) === 'EEXIST') {
      throw new AppError('CONFIG_INVALID', `${lock} exists: another keys command is running (remove the file if none is)`);
    }
    throw new AppError('CONFIG_INVALID', `cannot lock keys file ${file}: ${(err as Error).message}`, { cause: err });
  });
  try {
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      if (errorCode(err) === 'ENOENT') {
        return null;
      }
      throw new AppError('CONFIG_INVALID', `cannot read keys file ${file}: ${(err as Error).message}`, { cause: err });
    });
    // Refuses to edit a file the server would refuse, naming file:line:col.
    const keys = text === null ? [] : parseKeysFile(text, file);
    const doc = text === null || text.trim() === '' ? freshDocument() : parseDocument(text);
    const result = edit(doc, keysList(doc), keys);
    const next = doc.toString({ flowCollectionPadding: false });
    parseKeysFile(next, file);
    await writeAtomically(file, next);
    return result;
  } finally {
    await held.close();
    await rm(lock, { force: true });
  }
}

function freshDocument(): Document {
  const doc = new Document({ keys: [] });
  doc.commentBefore = HEADER;
  return doc;
}

/** The document's list of keys: the top-level list, or the `keys` list of a map (made when absent). */
function keysList(doc: Document): YAMLSeq {
  if (isSeq(doc.contents)) {
    return doc.contents;
  }
  if (isMap(doc.contents)) {
    const list = doc.contents.get('keys', true);
    if (isSeq(list)) {
      return list;
    }
    const made = new YAMLSeq();
    doc.contents.set('keys', made);
    return made;
  }
  const made = new YAMLSeq();
  doc.contents = doc.createNode({ keys: made }) as unknown as Document['contents'];
  return made;
}

/**
 * Adds an entry in the layout the shipped file uses (`scopes: [a, b]`, quoted times).
 * @param doc - the document
 * @param list - its keys list
 * @param entry - the new key's entry (only its digest)
 */
export function appendKey(doc: Document, list: YAMLSeq, entry: ApiKey): void {
  const node = doc.createNode({
    id: entry.id,
    clinicId: entry.clinicId,
    name: entry.name,
    scopes: entry.scopes,
    sha256: entry.sha256,
    createdAt: entry.createdAt.toISOString(),
    revoked: entry.revoked,
  }) as YAMLMap;
  const scopes = node.get('scopes', true);
  if (isSeq(scopes)) {
    scopes.flow = true;
  }
  const createdAt = node.get('createdAt', true);
  if (isScalar(createdAt)) {
    createdAt.type = Scalar.QUOTE_DOUBLE;
  }
  list.add(node);
}

/**
 * Marks the key `id` revoked, with the time, leaving everything else of its entry as it was.
 * @returns false when no entry has that id
 */
export function markRevoked(doc: Document, list: YAMLSeq, id: string, now: Date): boolean {
  const item = list.items.find((i): i is YAMLMap => isMap(i) && i.get('id') === id);
  if (!item) {
    return false;
  }
  item.set('revoked', true);
  const at = doc.createNode(now.toISOString()) as Scalar;
  at.type = Scalar.QUOTE_DOUBLE;
  item.set('revokedAt', at);
  return true;
}

/** Temp file beside the target, fsync, rename: readers see the old file or the new, never half of one. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const mode = await stat(file).then(
    (s) => s.mode & 0o777,
    () => 0o600,
  );
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
