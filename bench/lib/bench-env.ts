/** The environment a server child runs with: only what it needs, nothing inherited by accident (no MONGODB_URI for the embedded store). */
import { join } from 'node:path';
import { BENCH_BASE_URL, BENCH_TOKEN, type World } from './world.js';

export interface ServiceEnvOptions {
  logLevel?: string;
  mongodbUri?: string;
  seed?: boolean;
}

export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { TWILIO_AUTH_TOKEN: BENCH_TOKEN, PUBLIC_BASE_URL: BENCH_BASE_URL };
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'TZ']) {
    const v = process.env[key];
    if (v !== undefined) {
      env[key] = v;
    }
  }
  return env;
}

/**
 * The full service's environment for a world.
 * @param world - clinics, rules and seed on disk
 * @param options - log level (default warn), MongoDB URI (unset: embedded store), seed
 */
export function serviceEnv(world: Pick<World, 'dir' | 'clinicsFile' | 'rulesDir' | 'seedFile'>, options: ServiceEnvOptions = {}): Record<string, string> {
  return {
    ...baseEnv(),
    CLINICS_FILE: world.clinicsFile,
    RULES_DIR: world.rulesDir,
    SEED_FILE: options.seed === false || options.mongodbUri ? 'none' : world.seedFile,
    SPOOL_DIR: join(world.dir, `spool-${process.hrtime.bigint().toString(36)}`),
    LOG_LEVEL: options.logLevel ?? 'warn',
    WATCH_RULES: 'off',
    ...(options.mongodbUri ? { MONGODB_URI: options.mongodbUri } : {}),
  };
}
