import { isIP } from 'node:net';
import { AppError } from '../errors.js';

/** The service's settings, all from environment variables (secrets only ever from there). */
export interface Config {
  port: number;
  host: string;
  nodeEnv: string;
  /** Origin Twilio calls, e.g. https://api.example.com (no trailing slash); required in production; null: from the request. */
  publicBaseUrl: string | null;
  trustProxy: boolean;
  /**
   * The proxies trusted (addresses or CIDR ranges): X-Forwarded-* are read only from them, and
   * their connections are not counted against MAX_CONNECTIONS_PER_ADDRESS. Empty with
   * trustProxy: any peer is trusted (TRUST_PROXY=1).
   */
  trustedProxies: readonly string[];
  /** Default auth token(s): the current one first, then one accepted during rotation. */
  authTokens: string[];
  signatureValidation: boolean;
  mongodbUri: string | null;
  clinicsFile: string;
  rulesDir: string;
  seedFile: string | null;
  spoolDir: string;
  logLevel: string;
  /** Largest request body accepted, bytes. */
  bodyLimitBytes: number;
  /** How long a shutdown waits for requests in flight, ms. */
  shutdownGraceMs: number;
  /** Finished messages the embedded store keeps; older ones are dropped. */
  memoryStoreMaxMessages: number;
  /** Watch rules and clinics files and reload on change. */
  watchRules: boolean;
  /**
   * Run the background jobs here (events relay and dispatcher, media relay and worker).
   * off: another instance on the same MongoDB must run them; refused on the embedded store.
   */
  backgroundJobs: boolean;
  /** Where the embedded store keeps media files. */
  mediaDir: string;
  /** Any invalid clinic stops the start (deploy pipelines); off: the valid clinics are served. */
  strictStart: boolean;
  /** Time to receive a request's headers, ms. */
  headersTimeoutMs: number;
  /** Time to receive a whole request, ms. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open, ms. */
  keepAliveTimeoutMs: number;
  /** Connections one client address may hold open; 0: no limit. */
  maxConnectionsPerAddress: number;
  /** True when no token was given outside production and the well-known DEV_AUTH_TOKEN is in use. */
  devToken: boolean;
  /** Staff API keys (hashes only). */
  keysFile: string;
  /** Twilio REST base for sending (tests point it at a local fake); no trailing slash. */
  twilioApiBaseUrl: string;
  /** The Twilio account that sends for clinics that name no accountSid (null: those clinics cannot send). */
  twilioAccountSid: string | null;
  /** Who may see which clinic on the staff pages. */
  staffFile: string;
  /** The staff pages' OpenID Connect issuer (null: the demo sign-in, development only). */
  staffOidcIssuer: string | null;
  staffOidcClientId: string | null;
  staffOidcClientSecret: string | null;
  /** Staff pages sign out after this many idle minutes. */
  staffSessionIdleMinutes: number;
}

/** The token `npm start` and `npm run try` share on a development machine with no TWILIO_AUTH_TOKEN. Never accepted in production. */
export const DEV_AUTH_TOKEN = 'clinic-sms-local-dev-token';

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  doc: string;
  /** Set by the loader itself, never by an operator: left out of the documented environment. */
  internal?: true;
  parse: (raw: string | undefined, problems: string[]) => Config[K];
}

const int =
  (env: string, fallback: number, min: number, max: number) =>
  (raw: string | undefined, problems: string[]): number => {
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${env} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };

const text =
  (fallback: string) =>
  (raw: string | undefined): string =>
    raw === undefined || raw === '' ? fallback : raw;

const optional = (raw: string | undefined): string | null => (raw === undefined || raw === '' ? null : raw);

const flag =
  (env: string, fallback: boolean, on: string[], off: string[]) =>
  (raw: string | undefined, problems: string[]): boolean => {
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const v = raw.toLowerCase();
    if (on.includes(v)) {
      return true;
    }
    if (off.includes(v)) {
      return false;
    }
    problems.push(`${env} must be one of ${[...on, ...off].join(', ')}, got "${raw}"`);
    return fallback;
  };

/**
 * An http(s) URL without query or fragment (nor user or password, unless `credentials`):
 * without its trailing slashes, or exactly as given (`asGiven`); null (and a problem) otherwise.
 * @param env - the variable, for the problem
 * @param like - what it must be, e.g. "an http(s) origin like https://api.example.com"
 */
const httpUrl =
  (env: string, like: string, options: { credentials?: boolean; asGiven?: boolean } = {}) =>
  (v: string | null, problems: string[]): string | null => {
    if (v === null) {
      return null;
    }
    try {
      const u = new URL(v);
      if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash || (options.credentials !== true && u.username)) {
        throw new Error('bad');
      }
      return options.asGiven === true ? v : `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
    } catch {
      problems.push(`${env} must be ${like}, got "${v}"`);
      return null;
    }
  };

/**
 * One schema: each key with its env var, default and doc line. docs/operations.md's Environment
 * table lists exactly these variables (test/unit/config/environment-docs.test.ts holds it to them).
 */
export const SETTINGS: { [K in keyof Config]: Setting<K> } = {
  port: { key: 'port', env: 'PORT', doc: 'listen port', parse: int('PORT', 3000, 0, 65535) },
  host: { key: 'host', env: 'HOST', doc: 'listen address', parse: text('0.0.0.0') },
  nodeEnv: { key: 'nodeEnv', env: 'NODE_ENV', doc: 'production enables the safety checks', parse: text('development') },
  publicBaseUrl: {
    key: 'publicBaseUrl',
    env: 'PUBLIC_BASE_URL',
    doc: 'origin Twilio calls, used to rebuild the signed URL',
    parse: (raw, problems) => httpUrl('PUBLIC_BASE_URL', 'an http(s) origin like https://api.example.com', { credentials: true })(optional(raw), problems),
  },
  trustProxy: {
    key: 'trustProxy',
    env: 'TRUST_PROXY',
    doc: 'trust X-Forwarded-For/Proto/Host: the proxy addresses or CIDR ranges to trust (comma-separated), or 1 for any peer',
    parse: (raw, problems) =>
      raw !== undefined && /[.:]/.test(raw) ? trustedProxyList(raw, problems) !== null : flag('TRUST_PROXY', false, ['1', 'true', 'on', 'yes'], ['0', 'false', 'off', 'no'])(raw, problems),
  },
  trustedProxies: {
    key: 'trustedProxies',
    env: 'TRUST_PROXY',
    doc: 'the trusted proxies TRUST_PROXY lists',
    parse: (raw) => trustedProxyList(raw, []) ?? [],
  },
  authTokens: {
    key: 'authTokens',
    env: 'TWILIO_AUTH_TOKEN',
    doc: 'auth token for signature checks (TWILIO_AUTH_TOKEN_PREVIOUS is also accepted during rotation)',
    parse: (raw) => (optional(raw) === null ? [] : [raw as string]),
  },
  signatureValidation: {
    key: 'signatureValidation',
    env: 'TWILIO_SIGNATURE_VALIDATION',
    doc: '"off" only for local trials; refused in production',
    parse: flag('TWILIO_SIGNATURE_VALIDATION', true, ['on', '1', 'true'], ['off', '0', 'false']),
  },
  mongodbUri: { key: 'mongodbUri', env: 'MONGODB_URI', doc: 'MongoDB connection string; unset: embedded store', parse: optional },
  clinicsFile: { key: 'clinicsFile', env: 'CLINICS_FILE', doc: 'clinics configuration', parse: text('config/clinics.yaml') },
  rulesDir: { key: 'rulesDir', env: 'RULES_DIR', doc: 'rules folder', parse: text('rules') },
  seedFile: {
    key: 'seedFile',
    env: 'SEED_FILE',
    doc: 'patients/appointments loaded into the embedded store ("none" to load nothing)',
    parse: (raw) => (raw === 'none' ? null : text('config/demo-data.yaml')(raw)),
  },
  spoolDir: { key: 'spoolDir', env: 'SPOOL_DIR', doc: 'durable spool for messages that could not be stored', parse: text('var/spool') },
  logLevel: { key: 'logLevel', env: 'LOG_LEVEL', doc: 'pino level', parse: text('info') },
  bodyLimitBytes: { key: 'bodyLimitBytes', env: 'BODY_LIMIT_BYTES', doc: 'largest webhook body, bytes', parse: int('BODY_LIMIT_BYTES', 32 * 1024, 1024, 1024 * 1024) },
  shutdownGraceMs: { key: 'shutdownGraceMs', env: 'SHUTDOWN_GRACE_MS', doc: 'how long SIGTERM waits for requests in flight', parse: int('SHUTDOWN_GRACE_MS', 10_000, 0, 120_000) },
  memoryStoreMaxMessages: {
    key: 'memoryStoreMaxMessages',
    env: 'MEMORY_STORE_MAX_MESSAGES',
    doc: 'finished messages the embedded store keeps; the oldest go first',
    parse: int('MEMORY_STORE_MAX_MESSAGES', 50_000, 1, 10_000_000),
  },
  mediaDir: { key: 'mediaDir', env: 'MEDIA_DIR', doc: 'media files kept by the embedded store', parse: text('var/media') },
  headersTimeoutMs: {
    key: 'headersTimeoutMs',
    env: 'HTTP_HEADERS_TIMEOUT_MS',
    doc: 'time to receive a request\'s headers (408 and close after it); Twilio gives up after 15 s',
    parse: int('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 120_000),
  },
  requestTimeoutMs: {
    key: 'requestTimeoutMs',
    env: 'HTTP_REQUEST_TIMEOUT_MS',
    doc: 'time to receive a whole request, body included (408 and close after it)',
    parse: int('HTTP_REQUEST_TIMEOUT_MS', 20_000, 100, 300_000),
  },
  keepAliveTimeoutMs: {
    key: 'keepAliveTimeoutMs',
    env: 'HTTP_KEEP_ALIVE_TIMEOUT_MS',
    doc: 'how long an idle keep-alive connection stays open; behind a load balancer, more than its idle timeout',
    parse: int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
  },
  maxConnectionsPerAddress: {
    key: 'maxConnectionsPerAddress',
    env: 'MAX_CONNECTIONS_PER_ADDRESS',
    doc: 'connections one client address may hold open (more are closed as they open); 0: no limit; behind a proxy all share its address',
    parse: int('MAX_CONNECTIONS_PER_ADDRESS', 100, 0, 1_000_000),
  },
  keysFile: { key: 'keysFile', env: 'KEYS_FILE', doc: 'staff API keys (hashes only)', parse: text('config/api-keys.yaml') },
  twilioApiBaseUrl: {
    key: 'twilioApiBaseUrl',
    env: 'TWILIO_API_BASE_URL',
    doc: 'Twilio REST base for sending texts and fetching media; https required in production',
    parse: (raw, problems) => httpUrl('TWILIO_API_BASE_URL', 'an http(s) URL like https://api.twilio.com')(text('https://api.twilio.com')(raw), problems) ?? 'https://api.twilio.com',
  },
  twilioAccountSid: {
    key: 'twilioAccountSid',
    env: 'TWILIO_ACCOUNT_SID',
    doc: 'the account that sends staff replies for clinics naming no accountSid',
    parse: (raw, problems) => {
      const v = optional(raw);
      if (v !== null && !/^AC[0-9a-f]{32}$/.test(v)) {
        problems.push('TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits');
        return null;
      }
      return v;
    },
  },
  staffFile: { key: 'staffFile', env: 'STAFF_FILE', doc: 'who may see which clinic on the staff pages', parse: text('config/staff.yaml') },
  staffOidcIssuer: {
    key: 'staffOidcIssuer',
    env: 'STAFF_OIDC_ISSUER',
    doc: "the clinic's OpenID Connect issuer for the staff pages; unset: demo sign-in (development only)",
    // Kept exactly as given: discovery checks that the provider names itself the same
    // (Auth0's issuer ends in "/", Google's does not).
    parse: (raw, problems) => httpUrl('STAFF_OIDC_ISSUER', 'an http(s) URL like https://accounts.google.com', { asGiven: true })(optional(raw), problems),
  },
  staffOidcClientId: { key: 'staffOidcClientId', env: 'STAFF_OIDC_CLIENT_ID', doc: 'the client registered with the issuer', parse: optional },
  staffOidcClientSecret: { key: 'staffOidcClientSecret', env: 'STAFF_OIDC_CLIENT_SECRET', doc: "that client's secret", parse: optional },
  staffSessionIdleMinutes: {
    key: 'staffSessionIdleMinutes',
    env: 'STAFF_SESSION_IDLE_MINUTES',
    doc: 'staff pages sign out after this many idle minutes (HIPAA automatic logoff)',
    parse: int('STAFF_SESSION_IDLE_MINUTES', 15, 1, 720),
  },
  devToken: { key: 'devToken', env: 'CLINIC_SMS_DEV_TOKEN_IN_USE', doc: 'set by the loader, not by you', internal: true, parse: () => false },
  strictStart: {
    key: 'strictStart',
    env: 'STRICT_START',
    doc: '1: any invalid clinic stops the start (deploy pipelines); off: valid clinics are served, the broken one is reported',
    parse: flag('STRICT_START', false, ['1', 'true', 'on'], ['0', 'false', 'off']),
  },
  watchRules: { key: 'watchRules', env: 'WATCH_RULES', doc: 'reload rules and clinics when their files change', parse: flag('WATCH_RULES', true, ['1', 'true', 'on'], ['0', 'false', 'off']) },
  backgroundJobs: {
    key: 'backgroundJobs',
    env: 'BACKGROUND_JOBS',
    doc: 'off: this instance delivers no events and fetches no media (another instance on the same MongoDB must); keeps that work off the webhook\'s event loop',
    parse: flag('BACKGROUND_JOBS', true, ['on', '1', 'true'], ['off', '0', 'false']),
  },
};

/**
 * TRUST_PROXY as a list of addresses and CIDR ranges (`127.0.0.1`, `172.28.0.10`,
 * `10.0.0.0/8`, `::1`); null when it is not a list (unset, or a flag such as `1` or `off`).
 * A malformed entry is a problem.
 */
function trustedProxyList(raw: string | undefined, problems: string[]): string[] | null {
  if (raw === undefined || !/[.:]/.test(raw)) {
    return null;
  }
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  const bad = entries.filter((e) => {
    const [address = '', prefix, ...rest] = e.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    return family === 0 || rest.length > 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= max));
  });
  if (bad.length > 0) {
    problems.push(`TRUST_PROXY must be 1, off, or the proxies' addresses or CIDR ranges, comma-separated (e.g. 127.0.0.1,::1), got "${raw}"`);
    return null;
  }
  return entries;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) {
      deepFreeze(v);
    }
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads the config from `env`. Pure: collects every problem and throws one
 * CONFIG_INVALID error listing them all; returns a deep-frozen object.
 * @param env - usually process.env
 */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const { config, problems } = readConfig(env);
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return config;
}

/**
 * Reads the config from `env` without throwing: the config (defaults where a value is bad)
 * and every problem, so start-up can go on to check the files it names and report all at once.
 * @param env - usually process.env
 */
export function readConfig(env: Record<string, string | undefined>): { config: Readonly<Config>; problems: string[] } {
  const problems: string[] = [];
  const out = {} as Record<string, unknown>;
  for (const setting of Object.values(SETTINGS) as Setting<keyof Config>[]) {
    out[setting.key] = setting.parse(env[setting.env], problems);
  }
  const config = out as unknown as Config;
  const previous = optional(env.TWILIO_AUTH_TOKEN_PREVIOUS);
  if (previous !== null) {
    config.authTokens = [...config.authTokens, previous];
  }
  const production = config.nodeEnv === 'production';
  config.devToken = false;
  if (config.authTokens.length === 0 && !production) {
    config.authTokens = [DEV_AUTH_TOKEN];
    config.devToken = true;
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS (${config.headersTimeoutMs}) must not be more than HTTP_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`);
  }
  if (production && !config.signatureValidation) {
    problems.push('TWILIO_SIGNATURE_VALIDATION=off is refused when NODE_ENV=production');
  }
  if (production && config.publicBaseUrl === null) {
    // Twilio's delivery-status callbacks for staff replies go to PUBLIC_BASE_URL, and the signed URL is rebuilt from it.
    problems.push('NODE_ENV=production needs PUBLIC_BASE_URL: the origin Twilio calls (e.g. https://sms.example-clinic.com), where replies\' delivery statuses are sent');
  }
  if (production && config.mongodbUri === null) {
    problems.push('NODE_ENV=production needs MONGODB_URI: the embedded store keeps nothing across restarts');
  }
  if (!config.backgroundJobs && config.mongodbUri === null) {
    // The embedded store's jobs live in this process only: no other instance could ever do them.
    problems.push('BACKGROUND_JOBS=off needs MONGODB_URI: on the embedded store no other instance can deliver events or fetch media, so they would never be done');
  }
  if (config.staffOidcIssuer !== null) {
    if (config.staffOidcClientId === null || config.staffOidcClientSecret === null) {
      problems.push('STAFF_OIDC_ISSUER needs STAFF_OIDC_CLIENT_ID and STAFF_OIDC_CLIENT_SECRET');
    }
    if (production && !config.staffOidcIssuer.startsWith('https://')) {
      problems.push('STAFF_OIDC_ISSUER must be https:// when NODE_ENV=production');
    }
    if (production && config.publicBaseUrl === null) {
      problems.push('STAFF_OIDC_ISSUER needs PUBLIC_BASE_URL when NODE_ENV=production: the sign-in callback is PUBLIC_BASE_URL + /staff/auth/callback');
    }
  }
  if (production && !config.twilioApiBaseUrl.startsWith('https://')) {
    problems.push('TWILIO_API_BASE_URL must be https:// when NODE_ENV=production');
  }
  return { config: deepFreeze(config), problems };
}

/** A config for tests: defaults plus overrides, no environment read. */
export function loadTestConfig(overrides: Partial<Config> = {}): Readonly<Config> {
  const base = loadConfig({ TWILIO_AUTH_TOKEN: 'test-auth-token', SEED_FILE: 'none', LOG_LEVEL: 'silent', WATCH_RULES: 'off' });
  return deepFreeze({ ...structuredClone(base), ...overrides });
}
