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
