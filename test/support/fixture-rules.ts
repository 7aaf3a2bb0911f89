/**
 * Where tests find rules. Every test runs on FIXTURE_RULES_DIR, a copy of the shipped
 * rules/ (default.yaml, clinics/, tests/), so an admin's edit to the live rules/ folder
 * cannot fail unrelated tests. Only the suites in SHIPPED_RULES_SUITES read the live
 * folder: they exist to check the shipped files (test/unit/no-live-rules.test.ts keeps it so).
 */
export const FIXTURE_RULES_DIR = 'test/fixtures/rules/standard';

/** The live rules folder, for the suites that check the shipped files and nothing else. */
export const SHIPPED_RULES_DIR = 'rules';

/** Test files allowed to read the live rules/ folder, each with why. */
export const SHIPPED_RULES_SUITES: Readonly<Record<string, string>> = {
  'test/integration/rules-tests.int.test.ts': 'runs the admins\' rules/tests on the shipped rules; a failure names file:line',
  'test/integration/quick-start.int.test.ts': 'checks the README quick start works on the shipped files',
  'test/unit/rules/readme.test.ts': 'checks rules/README.md\'s promises against the shipped files',
  'test/unit/cli/rules-command.test.ts': 'asserts the shipped rules pass `rules check --strict`',
  'test/unit/admin/check/check-rules.test.ts': 'asserts the shipped rules have no errors and every warning is accepted (--strict)',
  'test/unit/config/load-config.test.ts': 'asserts the default RULES_DIR value is rules; reads no file',
  'test/support/fixture-rules.ts': 'defines SHIPPED_RULES_DIR',
  'test/integration/compose-proxy.int.test.ts': 'starts the service as compose.yaml configures it, which mounts the shipped ./rules',
};
