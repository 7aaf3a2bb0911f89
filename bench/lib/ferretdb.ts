/**
 * The bench's database: a FerretDB of its own from tools/ferretdb/start.sh (on PostgreSQL,
 * as CI's), stopped by stop.sh at the end. `pause()` freezes the server (SIGSTOP: the
 * connections stay open and nothing is answered, as with a hung database); `resume()` thaws it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BenchDatabase {
  /** Server URI without a database. */
  uri: string;
  backend: string;
  /** URI of one database on it. */
  uriFor(db: string): string;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startDatabase(root: string): Promise<BenchDatabase> {
  const { stdout } = await run('bash', ['tools/ferretdb/start.sh'], { cwd: root, env: { ...process.env, FERRETDB_PORT: '0', FERRETDB_LOG_LEVEL: 'warn' }, timeout: 300_000 });
  const vars = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  const uri = vars.MONGODB_URI as string;
  const pid = Number(vars.FERRETDB_PID);
  return {
    uri,
    backend: vars.FERRETDB_BACKEND ?? 'unknown',
    uriFor: (db) => `${uri.replace(/\/$/, '')}/${db}`,
    pause: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
    async stop() {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await run('bash', ['tools/ferretdb/stop.sh'], { cwd: root, env: { ...process.env, ...vars } });
    },
  };
}
