import { pathToFileURL } from 'node:url';
import { loadKeysFile } from './auth/api-keys-file.js';
import { AppError, formatFindings, isAppError } from './errors.js';
import type { Spool } from './spool/spool.js';
import { buildService, type BuiltService, type ServiceOverrides } from './process/build-service.js';
import { loadAll, loadStartupConfig } from './process/startup-config.js';
import { loadStaffFile } from './staff/auth/staff-file.js';

export type { ShutdownReport } from './process/shutdown.js';

/** The running service: the built one (process/build-service.ts), listening, with its outage spool. */
export interface RunningService extends BuiltService {
  spool: Spool;
}

/** What tests and the bench put in place of configured parts (process/build-service.ts). */
export type StartOptions = Omit<ServiceOverrides, 'signals' | 'spool' | 'readySpool'>;

/**
 * The composition root, as a story: the configuration (environment, clinics, rules and
 * keys, every problem reported at once) -> the service (backend, features, app: built
 * apart from listening) -> every long-running part started in order, the server last.
 * SIGHUP reloads the files; runMain() adds the signals that stop it.
 * @param env - the environment (process.env in production)
 * @param options - what a test puts in place of configured parts
 */
export async function startService(env: Record<string, string | undefined>, options: StartOptions = {}): Promise<RunningService> {
  const { config, snapshot, more, warnings } = await loadStartupConfig(env, (c) => loadAll([loadKeysFile(c.keysFile, { production: c.nodeEnv === 'production' }), loadStaffFile(c.staffFile)]));
  const [keys, staffFile] = more;
  const service = await buildService({ config, snapshot, keys, staffFile, env, warnings }, { ...options, signals: process });
  const { spool } = service;
  try {
    if (!spool) {
      throw new AppError('INTERNAL', 'the service was built without its spool');
    }
    await service.runner.start();
    return { ...service, spool };
  } catch (err) {
    // A start that failed half-way (the port taken) stops what it started, the store included.
    await service.stop();
    throw err;
  }
}

/** Starts the service for a process: signals, exit codes, start-up errors on stderr. */
export async function runMain(env: Record<string, string | undefined>): Promise<void> {
  try {
    const service = await startService(env);
    const shutdown = (signal: string): void => {
      service.logger.info({ signal }, 'shutting down');
      service.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    if (isAppError(err)) {
      // With findings, the message's first line heads them (its rest, if any, repeats them).
      const text = err.findings.length > 0 ? `${err.message.split('\n')[0] ?? ''}\n${formatFindings(err.findings)}` : err.message;
      process.stderr.write(`clinic-sms: ${text}\n`);
    } else {
      process.stderr.write(`clinic-sms: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runMain(process.env);
}
