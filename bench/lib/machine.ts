/** Where a bench ran: machine, Node, commit. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, availableParallelism, loadavg, platform, release } from 'node:os';

export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  commit: string;
  /** Uncommitted changes in the tree when the bench ran. */
  dirty: boolean;
  loadAverageAtStart: number[];
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
