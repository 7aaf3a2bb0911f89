import { isAbsolute, relative, resolve } from 'node:path';
import { formatFindings } from '../../errors.js';
import { wantsHelp, type CliCommand, type CliIO } from '../io.js';

const USAGE = [
  'usage: clinic-sms rules <check|test|simulate> [options]',
  '  rules check [dir] [--clinics FILE] [--strict] [--max-segments N] [--json]',
  '      checks the clinics file and every rules file; exit 1 on errors (and on warnings with --strict)',
  '  rules test <files or folders...> [--at TIME] [--rules DIR] [--clinics FILE] [--json]',
  '      runs YAML test cases against the rules; exit 1 when a case fails',
  '  rules simulate --clinic ID --from NUMBER --body TEXT [--at TIME] [--media TYPE]... [--rules DIR] [--clinics FILE] [--json]',
  '      shows what a message would do, writing nothing (SEED_FILE or MONGODB_URI, read-only)',
];

/** Parsed command line: positional arguments, and options by name (repeatable). */
export interface ParsedArgs {
  positional: string[];
  options: Map<string, string[]>;
  flags: Set<string>;
}

/**
 * Splits `args` into positionals, `--name value` options and `--flag` switches.
 * @param args - the arguments after the subcommand
 * @param flagNames - options that take no value
 * @param optionNames - options that take a value
 */
export function parseArgs(args: readonly string[], flagNames: readonly string[], optionNames: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (!arg.startsWith('--') || arg === '--') {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (flagNames.includes(name)) {
      out.flags.add(name);
      continue;
    }
    if (!optionNames.includes(name)) {
      throw new UsageError(`unknown option --${name}`);
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : args[i + 1];
    if (value === undefined) {
      throw new UsageError(`--${name} needs a value`);
    }
    if (eq < 0) {
      i += 1;
    }
    out.options.set(name, [...(out.options.get(name) ?? []), value]);
  }
  return out;
}

class UsageError extends Error {}

/** A path as the admin gave it, resolved against the CLI's working directory, shown relative when possible. */
function pathArg(io: CliIO, path: string): string {
  if (isAbsolute(path)) {
    return path;
  }
  const absolute = resolve(io.cwd, path);
  const rel = relative(process.cwd(), absolute);
  return rel === '' ? '.' : rel.startsWith('..') ? absolute : rel;
}

function one(parsed: ParsedArgs, name: string): string | undefined {
  const values = parsed.options.get(name);
  if (values && values.length > 1) {
    throw new UsageError(`--${name} given more than once`);
  }
  return values?.[0];
}

async function check(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(args, ['strict', 'json'], ['clinics', 'max-segments']);
  if (parsed.positional.length > 1) {
    throw new UsageError('rules check takes at most one folder');
  }
  const maxSegments = Number(one(parsed, 'max-segments') ?? '1');
  if (!Number.isInteger(maxSegments) || maxSegments < 1) {
    throw new UsageError('--max-segments must be a whole number of at least 1');
  }
  const rulesDir = pathArg(io, parsed.positional[0] ?? io.env.RULES_DIR ?? 'rules');
  const clinicsFile = pathArg(io, one(parsed, 'clinics') ?? io.env.CLINICS_FILE ?? 'config/clinics.yaml');
  const { checkRules } = await import('../../admin/check/check-rules.js');
  const report = await checkRules({ rulesDir, clinicsFile, maxSegments });
  const strict = parsed.flags.has('strict');
  const failed = report.errors > 0 || (strict && report.warnings > 0);
  if (parsed.flags.has('json')) {
    io.out(
      JSON.stringify(
        {
          ok: !failed,
          errors: report.errors,
          warnings: report.warnings,
          accepted: report.accepted,
          files: report.files,
          clinics: report.clinics,
          findings: report.findings,
          repliesToOptedOut: report.repliesToOptedOut,
        },
        null,
        2,
      ),
    );
    return failed ? 1 : 0;
  }
  // Findings and the summary are one report, on one stream, in order; the exit status says whether it failed.
  if (report.findings.length > 0) {
    io.out(formatFindings(report.findings));
  }
  // Every rule that may text an opted-out number, so a clinic sees them all (issue 30).
  for (const { clinic, rules } of report.repliesToOptedOut) {
    io.out(`${clinic}: may text opted-out numbers: ${rules.map((r) => `${r.name} (${r.action}, ${r.source})`).join(', ') || 'none'}`);
  }
  const accepted = report.accepted > 0 ? `, ${report.accepted} accepted` : '';
  const counts = `${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}${accepted}`;
  const summary = `rules check: ${counts} in ${report.files.length} files; clinics ready: ${report.clinics.join(', ') || 'none'}`;
  if (failed) {
    io.out(`${summary}${report.errors === 0 && strict ? ' (--strict: warnings fail the check)' : ''}`);
    return 1;
  }
  io.out(report.findings.length === 0 ? `rules check: OK, ${report.files.length} files${accepted}; clinics ready: ${report.clinics.join(', ')}` : summary);
  return 0;
}

/** A folder stands for the `*.yaml` / `*.yml` files in it (sorted), so `rules test rules/tests` runs them all. */
async function expandTestPaths(paths: readonly string[]): Promise<string[]> {
  const { readdir, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const out: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => null);
    if (info?.isDirectory()) {
      const names = (await readdir(p)).filter((n) => /\.ya?ml$/.test(n)).sort();
      out.push(...names.map((n) => join(p, n)));
    } else {
      out.push(p);
    }
  }
  return out;
}

async function test(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(args, ['json'], ['rules', 'clinics', 'at']);
  if (parsed.positional.length === 0) {
    throw new UsageError('rules test needs at least one test file');
  }
  const at = one(parsed, 'at');
  if (at !== undefined && !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.test(at.trim())) {
    throw new UsageError(`--at "${at}": expected "2030-01-09 10:00" (clinic time) or an ISO time with a zone`);
  }
  const { runTestFiles, formatTestReport } = await import('../../admin/test-runner/run-tests.js');
  const report = await runTestFiles(
    await expandTestPaths(parsed.positional.map((f) => pathArg(io, f))),
    {
      rulesDir: pathArg(io, one(parsed, 'rules') ?? io.env.RULES_DIR ?? 'rules'),
      clinicsFile: pathArg(io, one(parsed, 'clinics') ?? io.env.CLINICS_FILE ?? 'config/clinics.yaml'),
      ...(at === undefined ? {} : { at: at.trim().length === 10 ? `${at.trim()} 12:00` : at.trim() }),
    },
  );
  if (parsed.flags.has('json')) {
    io.out(JSON.stringify(report, null, 2));
  } else {
    // One report, on one stream (stdout) whether cases pass or fail, so `> report.txt` keeps it all;
    // the exit status says whether it failed.
    io.out(formatTestReport(report));
  }
  return report.ok ? 0 : 1;
}

async function simulate(args: string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(args, ['json'], ['clinic', 'from', 'body', 'at', 'media', 'rules', 'clinics']);
  const clinicId = one(parsed, 'clinic');
  const from = one(parsed, 'from');
  const body = one(parsed, 'body');
  if (!clinicId || !from || body === undefined) {
    throw new UsageError('rules simulate needs --clinic, --from and --body');
  }
  const { simulateFromEnv, formatSimulation } = await import('../../admin/simulate.js');
  const at = one(parsed, 'at');
  const result = await simulateFromEnv({
    env: io.env,
    rulesDir: pathArg(io, one(parsed, 'rules') ?? io.env.RULES_DIR ?? 'rules'),
    clinicsFile: pathArg(io, one(parsed, 'clinics') ?? io.env.CLINICS_FILE ?? 'config/clinics.yaml'),
    seedFile: io.env.SEED_FILE === 'none' ? null : pathArg(io, io.env.SEED_FILE || 'config/demo-data.yaml'),
    clinicId,
    from,
    body,
    media: parsed.options.get('media') ?? [],
    ...(at === undefined ? {} : { at }),
  });
  io.out(parsed.flags.has('json') ? JSON.stringify(result, null, 2) : formatSimulation(result));
  return 0;
}

const SUBCOMMANDS: Record<string, CliCommand> = { check, test, simulate };

/** `clinic-sms rules check|test|simulate`. */
export const rules: CliCommand = async (args, io) => {
  const [name, ...rest] = args;
  const sub = name ? SUBCOMMANDS[name] : undefined;
  if (wantsHelp(sub ? rest : args)) {
    // `rules check --help`: the general line and that subcommand's two.
    const at = sub ? USAGE.findIndex((l) => l.startsWith(`  rules ${name} `)) : -1;
    (at < 0 ? USAGE : [USAGE[0] as string, ...USAGE.slice(at, at + 2)]).forEach((l) => io.out(l));
    return 0;
  }
  if (!sub) {
    if (name !== undefined) {
      io.err(`error: unknown subcommand "rules ${name}"`);
    }
    USAGE.forEach((l) => io.err(l));
    return 2;
  }
  try {
    return await sub(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}`);
      USAGE.forEach((l) => io.err(l));
      return 2;
    }
    throw err;
  }
};
