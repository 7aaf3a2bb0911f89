/** `npm run bench -- [--quick] [--only=compare,rules,...] [--profile] [--no-write] [--tsx]` */

export const PHASES = ['compare', 'profile', 'rules', 'clinics', 'patients', 'commands', 'sustained'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchArgs {
  quick: boolean;
  phases: Set<Phase>;
  /** Write bench/results/<mode>.json (and docs/benchmarks.md for a full run of every phase). */
  write: boolean;
  /** Run the server children's .ts sources through tsx instead of compiling them first (the default: compiled JavaScript under node, as in production). */
  tsx: boolean;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const quick = argv.includes('--quick');
  const only = argv.find((a) => a.startsWith('--only='));
  let phases: Set<Phase>;
  if (only) {
    const names = only.slice('--only='.length).split(',').filter(Boolean);
    const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      throw new Error(`unknown phase(s) ${unknown.join(', ')}; phases: ${PHASES.join(', ')}`);
    }
    phases = new Set(names as Phase[]);
  } else {
    // The CPU profile is part of a full run; a quick run profiles only when asked.
    phases = new Set(PHASES.filter((p) => p !== 'profile' || !quick || argv.includes('--profile')));
  }
  if (argv.includes('--profile')) {
    phases.add('profile');
  }
  for (const a of argv) {
    if (!['--quick', '--profile', '--no-write', '--tsx'].includes(a) && !a.startsWith('--only=')) {
      throw new Error(`unknown option ${a}; usage: npm run bench -- [--quick] [--only=${PHASES.join(',')}] [--profile] [--no-write] [--tsx]`);
    }
  }
  return { quick, phases, write: !argv.includes('--no-write'), tsx: argv.includes('--tsx') };
}
