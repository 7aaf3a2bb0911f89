/** What a CLI command may touch of the outside world: passed in, so tests can capture it. */
export interface CliIO {
  env: NodeJS.ProcessEnv;
  cwd: string;
  out(line: string): void;
  err(line: string): void;
}

export type CliCommand = (args: string[], io: CliIO) => Promise<number>;

/** True when the arguments ask for help (`--help` or `-h` anywhere): the command prints its usage to stdout and exits 0. */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

/** The real process's IO. */
export function processIO(): CliIO {
  return {
    env: process.env,
    cwd: process.cwd(),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}
