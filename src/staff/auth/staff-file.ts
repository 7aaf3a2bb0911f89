import { compileSchema, configInvalid, parseConfigYaml, readConfigText, schemaFindings } from '../../config/config-file.js';

/** One entry of STAFF_FILE: a person by verified email, or everyone at an email domain. */
export type StaffEntry = { email: string; name?: string; clinics: readonly string[] } | { emailDomain: string; clinics: readonly string[] };

const WHAT = { what: 'staff file' };
const CLINICS = { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' }, message: 'a list of clinic ids, e.g. [downtown]' };

/** JSON Schema of STAFF_FILE's top: a map with a `staff` list. */
const STAFF_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  message: { type: 'expected a map with a "staff" list', additionalProperties: 'unknown field "{name}" (expected "staff")' },
  properties: { staff: { type: ['array', 'null'], message: 'expected a list' } },
} as const;

/** JSON Schema of one entry of STAFF_FILE (a person or a domain listed twice is checked in parseStaffFile). */
export const STAFF_ENTRY_SCHEMA = {
  type: 'object',
  required: ['clinics'],
  additionalProperties: false,
  oneOf: [{ required: ['email'] }, { required: ['emailDomain'] }],
  message: { type: 'expected a map with email or emailDomain, and clinics', oneOf: 'give either email or emailDomain (exactly one)' },
  properties: {
    email: { type: 'string', pattern: '^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$', message: 'expected an email address like maria@clinic.example' },
    emailDomain: { type: 'string', pattern: '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]{2,}$', message: 'expected a domain like clinic.example (no @)' },
    name: { type: 'string', pattern: '\\S', message: 'expected text' },
    clinics: CLINICS,
  },
} as const;

let validators: { file: ReturnType<typeof compileSchema>; entry: ReturnType<typeof compileSchema> } | undefined;

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
 * Parses and validates a staff file (a map with a `staff` list) with the configuration loader
 * and STAFF_ENTRY_SCHEMA. Collects every problem and throws one CONFIG_INVALID whose findings
 * name file:line:col.
 * @param text - the file's content
 * @param file - its path, for messages
 */
export function parseStaffFile(text: string, file: string): StaffEntry[] {
  const source = parseConfigYaml(text, file, WHAT);
  if (source.data === null || source.data === undefined) {
    return [];
  }
  validators ??= { file: compileSchema(STAFF_FILE_SCHEMA), entry: compileSchema(STAFF_ENTRY_SCHEMA) };
  const findings = schemaFindings(source, validators.file);
  const list = (source.data as { staff?: unknown }).staff;
  const entries: StaffEntry[] = [];
  const seen = new Set<string>();
  (Array.isArray(list) ? (list as unknown[]) : []).forEach((raw, index) => {
    const path = ['staff', index];
    const where = `staff[${index}]`;
    const own = schemaFindings(source, (validators as { entry: ReturnType<typeof compileSchema> }).entry, { path, label: where, data: raw });
    const entry = raw as { email?: string; emailDomain?: string; name?: string; clinics: string[] };
    if (own.length === 0 && entry.name !== undefined && entry.emailDomain !== undefined) {
      own.push(source.findingAt([...path, 'name'], `${where}.name: only an email entry names a person`));
    }
    findings.push(...own);
    if (own.length > 0) {
      return;
    }
    // Across entries: a person, or a domain, once.
    const key = entry.email !== undefined ? entry.email.toLowerCase() : `@${(entry.emailDomain as string).toLowerCase()}`;
    if (seen.has(key)) {
      findings.push(source.findingAt([...path, entry.email !== undefined ? 'email' : 'emailDomain'], `${where}: ${entry.email !== undefined ? `"${entry.email}"` : `the domain "${entry.emailDomain as string}"`} is listed twice`));
      return;
    }
    seen.add(key);
    const clinics = [...new Set(entry.clinics)];
    entries.push(
      entry.email !== undefined
        ? { email: entry.email.toLowerCase(), ...(entry.name === undefined ? {} : { name: entry.name.trim() }), clinics }
        : { emailDomain: (entry.emailDomain as string).toLowerCase(), clinics },
    );
  });
  if (findings.length > 0) {
    throw configInvalid(file, findings, WHAT);
  }
  return entries;
}

/**
 * Reads STAFF_FILE. A missing file lists nobody (every sign-in then gets "no access"); an
 * unreadable or invalid one throws CONFIG_INVALID with positions.
 * @param path - the file
 */
export async function loadStaffFile(path: string): Promise<{ directory: StaffDirectory; missing: boolean }> {
  const text = await readConfigText(path, { ...WHAT, missingOk: true });
  return text === null ? { directory: new StaffDirectory([]), missing: true } : { directory: new StaffDirectory(parseStaffFile(text, path)), missing: false };
}
