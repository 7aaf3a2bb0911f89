import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createApiKey, KEY_ID, SCOPES, type ApiKey, type Scope } from '../../auth/api-key.js';
import { DEMO_KEY_SHA256, loadKeysFile } from '../../auth/api-keys-file.js';
import { appendKey, editKeysFile, markRevoked } from '../../auth/keys-file-edit.js';
import { loadClinicsFile } from '../../config/clinics-file.js';
import { wantsHelp, type CliCommand, type CliIO } from '../io.js';

const USAGE = {
  create: [
    'usage: clinic-sms keys create --clinic ID --name TEXT --scopes SCOPE[,SCOPE] [--id KEY-ID]',
    `  Makes a staff API key for one clinic (scopes: ${SCOPES.join(', ')}) and prints it once, on stdout.`,
    '  Only its SHA-256 goes in KEYS_FILE (config/api-keys.yaml); a running server reloads the file.',
    '  --id defaults to <clinic>-<name>-<random>; lower-case letters, digits and dashes.',
  ],
  list: ['usage: clinic-sms keys list [--clinic ID] [--json]', '  Lists the keys of KEYS_FILE: id, clinic, name, scopes, createdAt, revoked, expiresAt (never a key or its digest).'],
  revoke: ['usage: clinic-sms keys revoke <key-id>', '  Marks the key revoked in KEYS_FILE (kept, for the access trail); a running server refuses it once it reloads the file.'],
} as const;

const ALL_USAGE = [
  'usage: clinic-sms keys create --clinic ID --name TEXT --scopes SCOPE[,SCOPE] [--id KEY-ID]',
  '       clinic-sms keys list [--clinic ID] [--json]',
  '       clinic-sms keys revoke <key-id>',
  '  Staff API keys in KEYS_FILE (default config/api-keys.yaml). clinic-sms keys <subcommand> --help for more.',
];

type Sub = keyof typeof USAGE;

function keysFile(io: CliIO): string {
  return resolve(io.cwd, io.env.KEYS_FILE || 'config/api-keys.yaml');
}

/** Reads `--name value` pairs and bare flags; a string is the first problem. */
function parseOptions(args: readonly string[], valued: readonly string[], flags: readonly string[] = []): { options: Map<string, string>; positional: string[] } | string {
  const options = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (flags.includes(arg)) {
      options.set(arg, 'true');
    } else if (valued.includes(arg)) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('--')) {
        return `${arg} needs a value`;
      }
      if (options.has(arg)) {
        return `${arg} given more than once`;
      }
      options.set(arg, value);
      i += 1;
    } else if (arg.startsWith('-')) {
      return `unknown option ${arg}`;
    } else {
      positional.push(arg);
    }
  }
  return { options, positional };
}

/** A readable id: clinic and name folded to the KEY_ID alphabet, with a random tail so two "front desk" keys differ. */
export function proposeKeyId(clinicId: string, name: string, taken: ReadonlySet<string>): string {
  const slug = `${clinicId}-${name}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  for (;;) {
    const id = `${slug || 'key'}-${randomBytes(3).toString('hex')}`;
    if (!taken.has(id)) {
      return id;
    }
  }
}

async function create(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseOptions(args, ['--clinic', '--name', '--scopes', '--id']);
  const problem =
    typeof parsed === 'string'
      ? parsed
      : parsed.positional.length > 0
        ? `unexpected argument "${parsed.positional[0]}"`
        : ['--clinic', '--name', '--scopes'].find((o) => !parsed.options.has(o))?.concat(' is required');
  if (problem !== undefined || typeof parsed === 'string') {
    io.err(`error: ${problem}`);
    USAGE.create.forEach((l) => io.err(l));
    return 2;
  }
  const clinicId = parsed.options.get('--clinic') as string;
  const name = (parsed.options.get('--name') as string).trim();
  const scopes = (parsed.options.get('--scopes') as string).split(',').map((s) => s.trim());
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (name === '' || name.length > 100) {
    io.err('error: --name must be 1 to 100 characters (what the key is for, e.g. "front desk")');
    return 2;
  }
  if (unknown.length > 0 || scopes.length === 0) {
    io.err(`error: --scopes: unknown scope "${unknown[0] ?? ''}"; expected ${SCOPES.join(', ')} (comma-separated)`);
    return 2;
  }
  const id = parsed.options.get('--id');
  if (id !== undefined && !KEY_ID.test(id)) {
    io.err('error: --id: lower-case letters, digits and dashes, up to 63 characters');
    return 2;
  }
  // A key for a clinic that is not served would be refused on every request: catch the typo now.
  const clinicsFile = resolve(io.cwd, io.env.CLINICS_FILE || 'config/clinics.yaml');
  const clinics = await loadClinicsFile(clinicsFile);
  if (!clinics.byId.has(clinicId)) {
    io.err(`error: --clinic: no clinic "${clinicId}" in ${clinicsFile}`);
    return 1;
  }
  const file = keysFile(io);
  const made = await editKeysFile(file, (doc, list, keys) => {
    const ids = new Set(keys.map((k) => k.id));
    if (id !== undefined && ids.has(id)) {
      return null;
    }
    const result = createApiKey({ id: id ?? proposeKeyId(clinicId, name, ids), clinicId, name, scopes: [...new Set(scopes)] as Scope[] }, new Date());
    appendKey(doc, list, result.entry);
    return result;
  });
  if (made === null) {
    io.err(`error: --id: a key "${id}" is already in ${file} (ids are never reused, revoked or not)`);
    return 1;
  }
  io.out(made.key);
  io.err(`created key ${made.entry.id} for clinic ${clinicId} (${made.entry.scopes.join(', ')}) in ${file}.`);
  io.err('The key above is shown this once: hand it to the clinic now. Only its SHA-256 is kept.');
  io.err('A running server takes it up when it sees the file change (WATCH_RULES, the default) or on SIGHUP.');
  return 0;
}

function row(k: ApiKey): string[] {
  const expired = k.expiresAt !== undefined && k.expiresAt <= new Date() ? ' (expired)' : '';
  return [k.id, k.clinicId, k.name, k.scopes.join(','), k.createdAt.toISOString(), k.revoked ? `yes${k.revokedAt ? ` (${k.revokedAt.toISOString()})` : ''}` : 'no', k.expiresAt ? `${k.expiresAt.toISOString()}${expired}` : '-'];
}

async function list(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseOptions(args, ['--clinic'], ['--json']);
  if (typeof parsed === 'string' || parsed.positional.length > 0) {
    io.err(`error: ${typeof parsed === 'string' ? parsed : `unexpected argument "${parsed.positional[0]}"`}`);
    USAGE.list.forEach((l) => io.err(l));
    return 2;
  }
  const file = keysFile(io);
  const { keys, missing } = await loadKeysFile(file);
  const clinic = parsed.options.get('--clinic');
  const shown = keys.filter((k) => clinic === undefined || k.clinicId === clinic);
  if (parsed.options.has('--json')) {
    for (const k of shown) {
      // Named fields only: the digest stays in the file.
      io.out(JSON.stringify({ id: k.id, clinicId: k.clinicId, name: k.name, scopes: k.scopes, createdAt: k.createdAt, revoked: k.revoked, ...(k.revokedAt ? { revokedAt: k.revokedAt } : {}), ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}) }));
    }
    return 0;
  }
  if (missing) {
    io.err(`no keys file at ${file} (clinic-sms keys create makes it)`);
    return 0;
  }
  const rows = [['id', 'clinic', 'name', 'scopes', 'createdAt', 'revoked', 'expiresAt'], ...shown.map(row)];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)));
  rows.forEach((r) => io.out(r.map((cell, c) => cell.padEnd(widths[c] as number)).join('  ').trimEnd()));
  if (io.env.NODE_ENV === 'production' && keys.some((k) => k.sha256 === DEMO_KEY_SHA256)) {
    io.err(`warning: ${file} holds the README's demo key; the server refuses the file when NODE_ENV=production until that entry is deleted`);
  }
  return 0;
}

async function revoke(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseOptions(args, []);
  if (typeof parsed === 'string' || parsed.positional.length !== 1) {
    io.err(`error: ${typeof parsed === 'string' ? parsed : 'give exactly one key id'}`);
    USAGE.revoke.forEach((l) => io.err(l));
    return 2;
  }
  const id = parsed.positional[0] as string;
  const file = keysFile(io);
  const outcome = await editKeysFile(file, (doc, keysList, keys) => {
    const key = keys.find((k) => k.id === id);
    if (!key) {
      return 'missing';
    }
    if (key.revoked) {
      return 'already';
    }
    markRevoked(doc, keysList, id, new Date());
    return 'revoked';
  });
  if (outcome === 'missing') {
    io.err(`error: no key "${id}" in ${file} (clinic-sms keys list shows them)`);
    return 1;
  }
  io.out(outcome === 'already' ? `key ${id} was already revoked` : `revoked key ${id} in ${file}; a running server refuses it once it reloads the file (on change, or SIGHUP)`);
  return 0;
}

const SUBCOMMANDS: Record<Sub, (args: readonly string[], io: CliIO) => Promise<number>> = { create, list, revoke };

/** `clinic-sms keys create|list|revoke`: staff API keys in KEYS_FILE. */
export const keys: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  const known = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? (sub as Sub) : undefined;
  if (wantsHelp(args)) {
    (known ? USAGE[known] : ALL_USAGE).forEach((l) => io.out(l));
    return 0;
  }
  if (!known) {
    if (sub !== undefined) {
      io.err(`error: unknown subcommand "keys ${sub}"`);
    }
    ALL_USAGE.forEach((l) => io.err(l));
    return 2;
  }
  return SUBCOMMANDS[known](rest, io);
};
