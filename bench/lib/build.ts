/**
 * Compiles the server children and the service (tsconfig.bench.json: src and bench/servers
 * into var/bench-build) once per run, so the bench measures the JavaScript that
 * `npm run start:prod` runs under plain node, not tsx.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ServerRuntime } from './server-child.js';

export const BENCH_TSCONFIG = 'tsconfig.bench.json';
/** outDir of tsconfig.bench.json, relative to the root (rootDir "."). */
export const BENCH_BUILD_DIR = join('var', 'bench-build');

export interface BuildResult {
  runtime: Extract<ServerRuntime, { kind: 'compiled' }>;
  ms: number;
}

/**
 * Runs tsc on tsconfig.bench.json; rejects with tsc's output when it fails.
 * @param root - the project root (where tsconfig.bench.json and node_modules are)
 */
export async function buildServers(root: string): Promise<BuildResult> {
  const t0 = performance.now();
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(tsc, ['-p', BENCH_TSCONFIG], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (err) => reject(new Error(`the bench build could not run ${tsc}: ${err.message}`)));
    child.once('close', (exit) => resolve({ code: exit, output: Buffer.concat(chunks).toString('utf8') }));
  });
  if (code !== 0) {
    const lines = output.trim().split('\n');
    const shown = lines.slice(0, 30).join('\n') + (lines.length > 30 ? `\n... (${lines.length - 30} more lines)` : '');
    throw new Error(`the bench build failed (tsc -p ${BENCH_TSCONFIG} exited with ${code}); fix the errors, or run the .ts sources with --tsx:\n${shown}`);
  }
  return { runtime: { kind: 'compiled', outDir: join(root, BENCH_BUILD_DIR) }, ms: performance.now() - t0 };
}
