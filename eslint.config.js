// Lint: typescript-eslint strict + type-checked picks from medplum (see ../shared/STYLE.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Imports run one way, top to bottom: a module of src/ may import its own layer and the
 * layers below it, never one above (type-only imports and import() included).
 *
 *   cli                         the clinic-sms commands
 *   main.ts                     the composition root: startService, runMain (signals, exit codes)
 *   process                     the process around the pipeline: buildService (features -> app ->
 *                               components), start-up config, readiness, drain, file reloads
 *   staff                       the front desk's pages (HTML, htmx, live updates) and their sign-in
 *                               (staff/auth): above admin, whose segment counter the composer shows
 *   admin                       rules check, rules test, rules simulate
 *   auth, conversations, media  feature folders (Medplum style): each holds its routes, its
 *                               service and its store part; main.ts mounts their routers and
 *                               hands the pipeline the ports they implement
 *   http                        Koa app, webhook route, error middleware
 *   service                     the message pipeline and the live config it reads
 *   spool, import, events       the outage spool and its replayer; data files and the seed;
 *                               signed events (a feature folder with its own store part, but
 *                               no routes, and the pipeline writes the events it produces in
 *                               its completion: so below service, not with the routed features)
 *   rules, actions              the rules engine; the actions rules may name
 *   store                       the Store port and its adapters
 *   twilio, config              Twilio's wire formats; environment and clinics file (events endpoints too)
 *   domain, errors, logger, metrics, phone, jobs (poll loop, relay, leased worker, retry schedule), event-loop-load, text-check, sms-segments, lifecycle   the leaves everyone uses
 *
 * A name ending in .ts is a file of src/, any other a folder. An import names a layer when
 * its first segment after the ./ and ../ steps is that folder (or file), which holds because
 * src/'s folders have no subfolder named like a layer. test/unit/layers.test.ts holds the
 * rule to failing on an upward import.
 */
const LAYERS = [
  ['cli'],
  ['main.ts'],
  ['process'],
  ['staff'],
  ['admin'],
  ['auth', 'conversations', 'media'],
  ['http'],
  ['service'],
  ['spool', 'import', 'events'],
  ['rules', 'actions'],
  ['store'],
  ['twilio', 'config'],
  ['domain.ts', 'errors.ts', 'logger.ts', 'metrics.ts', 'phone.ts', 'jobs', 'event-loop-load.ts', 'text-check.ts', 'sms-segments.ts', 'lifecycle.ts'],
];

/** More syntax a layer refuses (one no-restricted-syntax list a file, so it rides with the layer's). */
const EXTRA_SYNTAX = {
  // The staff pages render every text escaped; raw HTML is the one way around that.
  staff: [{ selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'staff pages render text escaped: no dangerouslySetInnerHTML' }],
};

/** The lint rules that keep each layer from importing the layers above it. */
function layerRules() {
  return LAYERS.slice(1).flatMap((layer, i) => {
    const above = LAYERS.slice(0, i + 1).flat();
    // "/" written \x2F: the selector syntax of no-restricted-syntax ends a regex at any "/".
    const names = above.map((m) => (m.endsWith('.ts') ? `${m.slice(0, -3)}\\.js$` : `${m}(?:\\x2F|$)`)).join('|');
    const source = `^(?:\\.\\.?\\x2F)+(?:${names})`;
    const message = `imports run one way (eslint.config.js LAYERS): ${layer.join(', ')} may not import ${above.join(', ')}`;
    return layer.map((m) => ({
      files: [m.endsWith('.ts') ? `src/${m}` : `src/${m}/**/*.{ts,tsx}`],
      rules: {
        'no-restricted-imports': ['error', { patterns: [{ regex: source, message }] }],
        'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${source}/]`, message }, ...(EXTRA_SYNTAX[m] ?? [])],
      },
    }));
  });
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'var/', 'tools/', 'public/', 'eslint.config.js', 'bin/', '**/*.cjs', 'dbg-*.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true, allowTypedFunctionExpressions: true, allowHigherOrderFunctions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-throw-literal': 'error',
      curly: 'error',
      eqeqeq: 'error',
      'no-restricted-properties': ['error', { object: 'describe', property: 'only' }, { object: 'it', property: 'only' }],
    },
  },
  ...layerRules(),
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/explicit-function-return-type': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
);
