import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isSeq, parseDocument, type Node } from 'yaml';
import { AppError, errorCode, type Finding } from '../../errors.js';

/** One entry of STAFF_FILE: a person by verified email, or everyone at an email domain. */
export type StaffEntry = { email: string; name?: string; clinics: readonly string[] } | { emailDomain: string; clinics: readonly string[] };

const KNOWN = new Set(['email', 'emailDomain', 'name', 'clinics']);
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i;
const CLINIC_ID = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Who may see which clinic, as the staff file says: looked up by verified email (an exact
 * entry first, case-insensitive), else by the email's domain.
 */
export class StaffDirectory {
  private readonly byEmail = new Map<string, { name?: string; clinics: readonly string[] }>();
  private readonly byDomain = new Map<string, readonly string[]>();

  constructor(readonly entries: readonly StaffEntry[]) {
    for (const entry of entries) {
      if ('email' in entry) {
        this.byEmail.set(entry.email.toLowerCase(), { ...(entry.name === undefined ? {} : { name: entry.name }), clinics: entry.clinics });
      } else {
        this.byDomain.set(entry.emailDomain.toLowerCase(), entry.clinics);
      }
    }
  }

  /** The clinics this verified email may see (empty: none; the person gets "no access"). */
  clinicsOf(email: string): readonly string[] {
    const lower = email.toLowerCase();
    const exact = this.byEmail.get(lower);
    if (exact) {
      return exact.clinics;
    }
    const domain = lower.slice(lower.lastIndexOf('@') + 1);
    return this.byDomain.get(domain) ?? [];
  }

  /** The staff file's name for this email, if it gives one. */
  nameOf(email: string): string | undefined {
    return this.byEmail.get(email.toLowerCase())?.name;
  }

  /** The people listed by email who may see this clinic (for "assign to someone"); domain entries name nobody. */
  staffOf(clinicId: string): { email: string; name?: string }[] {
    return [...this.byEmail.entries()].filter(([, e]) => e.clinics.includes(clinicId)).map(([email, e]) => ({ email, ...(e.name === undefined ? {} : { name: e.name }) }));
  }
}

/**
 * Parses and validates a staff file (a map with a `staff` list). Collects every problem
 * and throws one CONFIG_INVALID whose findings name file:line:col.
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function parseStaffFile(text: string, file: string): StaffEntry[] {
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
    throw new AppError('CONFIG_INVALID', `invalid staff file ${file}`, { findings });
  };
  if (findings.length > 0) {
    fail();
  }
  const contents = doc.contents;
  if (contents === null) {
    return [];
  }
  const list = isMap(contents) ? contents.get('staff', true) : undefined;
  if (isMap(contents)) {
    for (const pair of contents.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (key !== 'staff') {
        at(pair.key as Node, `unknown field "${key}" (expected "staff")`);
      }
    }
  }
  if (list === undefined || list === null) {
    if (!isMap(contents)) {
      at(contents, 'expected a map with a "staff" list');
    }
    return findings.length > 0 ? fail() : [];
  }
  if (!isSeq(list)) {
    at(list as Node, 'staff: expected a list');
    return fail();
  }
  const entries: StaffEntry[] = [];
  const seen = new Set<string>();
  list.items.forEach((item, index) => {
    const where = `staff[${index}]`;
    if (!isMap(item)) {
      at(item as Node, `${where}: expected a map with email or emailDomain, and clinics`);
      return;
    }
    const get = (key: string): Node | undefined => item.get(key, true) as Node | undefined;
    const value = (key: string): unknown => (get(key) as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? undefined;
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (!KNOWN.has(key)) {
        at(pair.key as Node, `${where}: unknown field "${key}"`);
      }
    }
    const before = findings.length;
    const email = value('email');
    const domain = value('emailDomain');
    if ((email === undefined) === (domain === undefined)) {
      at(item, `${where}: give either email or emailDomain (exactly one)`);
    } else if (email !== undefined && (typeof email !== 'string' || !EMAIL.test(email))) {
      at(get('email'), `${where}.email: expected an email address like maria@clinic.example`);
    } else if (domain !== undefined && (typeof domain !== 'string' || !DOMAIN.test(domain))) {
      at(get('emailDomain'), `${where}.emailDomain: expected a domain like clinic.example (no @)`);
    }
    const name = value('name');
    if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
      at(get('name'), `${where}.name: expected text`);
    } else if (name !== undefined && domain !== undefined) {
      at(get('name'), `${where}.name: only an email entry names a person`);
    }
    const clinics = value('clinics');
    if (!Array.isArray(clinics) || clinics.length === 0 || !clinics.every((c) => typeof c === 'string' && CLINIC_ID.test(c))) {
      at(get('clinics') ?? item, `${where}.clinics: a list of clinic ids, e.g. [downtown]`);
    }
    if (findings.length > before) {
      return;
    }
    const key = typeof email === 'string' ? email.toLowerCase() : `@${(domain as string).toLowerCase()}`;
    if (seen.has(key)) {
      at(get('email') ?? get('emailDomain'), `${where}: ${typeof email === 'string' ? `"${email}"` : `the domain "${domain as string}"`} is listed twice`);
      return;
    }
    seen.add(key);
    const clinicList = [...new Set(clinics as string[])];
    entries.push(
      typeof email === 'string'
        ? { email: email.toLowerCase(), ...(typeof name === 'string' ? { name: name.trim() } : {}), clinics: clinicList }
        : { emailDomain: (domain as string).toLowerCase(), clinics: clinicList },
    );
  });
  if (findings.length > 0) {
    findings.sort((a, b) => a.line - b.line || a.col - b.col);
    fail();
  }
  return entries;
}

/**
 * Reads STAFF_FILE. A missing file lists nobody (every sign-in then gets "no access"); an
 * unreadable or invalid one throws CONFIG_INVALID with positions.
 * @param path - the file
 */
export async function loadStaffFile(path: string): Promise<{ directory: StaffDirectory; missing: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (errorCode(cause) === 'ENOENT') {
      return { directory: new StaffDirectory([]), missing: true };
    }
    throw new AppError('CONFIG_INVALID', `cannot read staff file ${path}`, {
      cause,
      findings: [{ file: path, line: 1, col: 1, message: `cannot read: ${(cause as Error).message}`, severity: 'error' }],
    });
  }
  return { directory: new StaffDirectory(parseStaffFile(text, path)), missing: false };
}
