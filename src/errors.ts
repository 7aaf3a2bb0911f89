/**
 * The one error type of the service. Branch on `code`, never on `instanceof`
 * (json-rules-engine's own errors arrive as plain Errors with a `code`).
 */

/** Every code the service raises, with its HTTP status and whether its message may be shown to the caller. */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, expose: true },
  MISSING_SIGNATURE: { status: 400, expose: true },
  BAD_SIGNATURE: { status: 403, expose: true },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, expose: true },
  PAYLOAD_TOO_LARGE: { status: 413, expose: true },
  NOT_FOUND: { status: 404, expose: true },
  UNAUTHORIZED: { status: 401, expose: true },
  FORBIDDEN: { status: 403, expose: true },
  OPTED_OUT: { status: 409, expose: true },
  IDEMPOTENCY_CONFLICT: { status: 409, expose: true },
  TOO_MANY_REQUESTS: { status: 429, expose: true },
  TWILIO_FAILED: { status: 502, expose: false },
  TWILIO_TIMEOUT: { status: 504, expose: false },
  IDENTITY_PROVIDER_FAILED: { status: 502, expose: false },
  // A configuration problem the caller can be told about (what is missing), not an internal error.
  TWILIO_NOT_CONFIGURED: { status: 409, expose: true },
  CONFIG_INVALID: { status: 500, expose: false },
  RULES_INVALID: { status: 500, expose: false },
  STORE_UNAVAILABLE: { status: 503, expose: false },
  STORE_ERROR: { status: 500, expose: false },
  IMPORT_INVALID: { status: 400, expose: true },
  SPOOL_ERROR: { status: 500, expose: false },
  INTERNAL: { status: 500, expose: false },
} as const satisfies Record<string, { status: number; expose: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One finding in a file: where, and why. */
export interface Finding {
  file: string;
  line: number;
  col: number;
  message: string;
  severity?: 'error' | 'warning';
  /** A warning's code (rules check), which `accept:` can name. */
  code?: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  /** Findings with file positions (config and rules errors). */
  findings?: Finding[];
  /** For 429 and 503: when to try again, seconds (sent as Retry-After). */
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly findings: Finding[];
  readonly retryAfterSeconds: number | undefined;

  /**
   * @param code - one of ERROR_CODES
   * @param message - short and free of PHI; shown to callers only when the code is exposed
   * @param options - cause and findings
   */
  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.expose = ERROR_CODES[code].expose;
    this.findings = options.findings ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** True when `err` carries one of our codes (works across module copies). */
export function isAppError(err: unknown): err is AppError {
  const code = err instanceof Error ? errorCode(err) : undefined;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The `code` a thrown value carries: ours, Node's ("ENOENT"), the MongoDB driver's (a number); else undefined. */
export function errorCode(err: unknown): string | number | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? code : undefined;
}

/** A finding about a file as a whole (it cannot be read, it is not used), placed at its start. */
export function fileFinding(file: string, message: string, severity: Finding['severity'] = 'error', code?: Finding['code']): Finding {
  return { file, line: 1, col: 1, message, severity, ...(code === undefined ? {} : { code }) };
}

/** Where environment problems are reported: they have no file, line or column. */
export const ENVIRONMENT = 'environment';

/** A problem with an environment variable, in the same list as file findings (printed without a position). */
export function envFinding(message: string): Finding {
  return { file: ENVIRONMENT, line: 0, col: 0, message, severity: 'error' };
}

/** An AppError's findings, or, when it has none, its message as a finding about `file`. */
export function findingsOf(err: AppError, file: string): Finding[] {
  return err.findings.length > 0 ? err.findings : [fileFinding(file, err.message)];
}

/** Formats findings as `file:line:col: message`, one a line. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => `${f.line === 0 ? f.file : `${f.file}:${f.line}:${f.col}`}: ${f.severity === 'warning' ? 'warning: ' : ''}${f.message}${f.code ? ` [${f.code}]` : ''}`)
    .join('\n');
}
