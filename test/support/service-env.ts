import { join } from 'node:path';
import { runCli } from '../../src/cli/index.js';
import { FIXTURE_RULES_DIR } from './fixture-rules.js';
import { AUTH_TOKEN, NORTHSIDE_TOKEN, PUBLIC_BASE_URL } from './test-app.js';

/**
 * The environment of a whole service started by a test on the fixtures: any free port on
 * loopback, the fixture clinics (both tokens) and rules, no seed, silent, no rules watcher.
 * @param extra - what the test sets or overrides (SPOOL_DIR at least: every service needs its own)
 */
export function fixtureServiceEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    NORTHSIDE_AUTH_TOKEN: NORTHSIDE_TOKEN,
    PUBLIC_BASE_URL,
    CLINICS_FILE: 'test/fixtures/clinics.yaml',
    RULES_DIR: FIXTURE_RULES_DIR,
    SEED_FILE: 'none',
    LOG_LEVEL: 'silent',
    WATCH_RULES: 'off',
    ...extra,
  };
}

/**
 * A downtown staff API key made as an operator makes one (`clinic-sms keys create`, read and
 * write), in `<dir>/api-keys.yaml`: the key, shown once on stdout.
 * @param dir - the suite's folder; KEYS_FILE is `join(dir, 'api-keys.yaml')`
 */
export async function keyMadeByCli(dir: string): Promise<string> {
  const stdout: string[] = [];
  const made = await runCli(['keys', 'create', '--clinic', 'downtown', '--name', 'desk', '--scopes', 'conversations:read,conversations:write'], {
    env: { KEYS_FILE: join(dir, 'api-keys.yaml'), CLINICS_FILE: 'test/fixtures/clinics.yaml' },
    cwd: process.cwd(),
    out: (l) => stdout.push(l),
    err: () => undefined,
  });
  if (made !== 0 || !stdout[0]) {
    throw new Error(`clinic-sms keys create failed (exit ${made})`);
  }
  return stdout[0];
}
