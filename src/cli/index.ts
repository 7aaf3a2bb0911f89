#!/usr/bin/env node
import { pathToFileURL } from 'node:url';
import { isAppError, formatFindings } from '../errors.js';
import { processIO, type CliCommand, type CliIO } from './io.js';

/** Subcommands, loaded on demand so `clinic-sms rules check` never loads the MongoDB driver. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  serve: { summary: 'serve the webhook (same as npm start)', load: async () => (await import('./commands/serve.js')).serve },
  rules: { summary: 'rules check|test|simulate: check, test and try YAML rules', load: async () => (await import('./commands/rules.js')).rules },
  import: { summary: 'import <file>: load patients and appointments (YAML, JSON, CSV)', load: async () => (await import('./commands/import.js')).importCommand },
  spool: { summary: 'spool replay|status: replay messages kept during a database outage', load: async () => (await import('./commands/spool.js')).spool },
  events: { summary: 'events list|replay|send-test: the events sent to practice systems', load: async () => (await import('./commands/events.js')).events },
  export: { summary: 'export [--access] --clinic ID --since DATE --until DATE [--format csv|jsonl]: audit or access records', load: async () => (await import('./commands/export.js')).exportCommand },
  keys: { summary: 'keys create|list|revoke: staff API keys (KEYS_FILE)', load: async () => (await import('./commands/keys.js')).keys },
};

/** Whether an argument asks for help. */
export function isHelp(arg: string | undefined): boolean {
  return arg === '--help' || arg === '-h' || arg === 'help';
}

function usage(write: (line: string) => void): void {
  write('usage: clinic-sms <command> [options]   (clinic-sms <command> --help for its options)');
  for (const [name, { summary }] of Object.entries(COMMANDS)) {
    write(`  ${name.padEnd(8)} ${summary}`);
  }
}

/**
 * Runs one CLI invocation and returns its exit status.
 * @param argv - arguments after the program name
 * @param io - where output goes
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    // Asked-for help is the answer (stdout, exit 0); a missing or unknown command is a mistake.
    if (name === undefined || isHelp(name)) {
      usage((l) => io.out(l));
      return 0;
    }
    io.err(`error: unknown command "${name}"`);
    usage((l) => io.err(l));
    return 2;
  }
  try {
    return await (await command.load())(rest, io);
  } catch (err) {
    if (isAppError(err)) {
      io.err(err.findings.length > 0 ? formatFindings(err.findings) : `error: ${err.message}`);
      return 1;
    }
    io.err(`error: ${(err as Error).message}`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runCli(process.argv.slice(2), processIO()).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
