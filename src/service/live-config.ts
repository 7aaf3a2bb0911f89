import type { Clinic } from '../domain.js';
import type { Finding } from '../errors.js';
import type { ClinicsFile } from '../config/clinics-file.js';
import type { CompiledRules } from '../rules/load-rules.js';

/** What one request works with: taken once at its start, so a reload never mixes two versions. */
export interface Snapshot {
  readonly clinics: ClinicsFile;
  readonly rules: ReadonlyMap<string, CompiledRules>;
  /** Auth tokens by clinic id (the clinic's own, or the default ones). */
  readonly tokens: ReadonlyMap<string, readonly string[]>;
  /** Tokens by Twilio AccountSid (clinics that name theirs), for messages to a number no clinic owns. */
  readonly tokensByAccount: ReadonlyMap<string, readonly string[]>;
  /** Every token any clinic uses, for messages to a number no clinic owns from an account no clinic names. */
  readonly allTokens: readonly string[];
  readonly loadedAt: Date;
}

export interface ReloadFailure {
  at: Date;
  findings: Finding[];
}

/**
 * Holds the clinics and their compiled rules; swapped whole on reload. A failed reload
 * keeps the last good snapshot live and is remembered for /readyz and metrics.
 */
export class LiveConfig {
  private current: Snapshot;
  private failure: ReloadFailure | null = null;

  constructor(initial: Snapshot) {
    this.current = initial;
  }

  snapshot(): Snapshot {
    return this.current;
  }

  swap(next: Snapshot): void {
    this.current = next;
    this.failure = null;
  }

  recordFailure(findings: Finding[], at: Date): void {
    this.failure = { at, findings };
  }

  lastFailure(): ReloadFailure | null {
    return this.failure;
  }
}

/**
 * Works out each clinic's auth tokens: its own env var (and `<NAME>_PREVIOUS` during
 * rotation) when it names one, else the default tokens.
 * @returns tokens by clinic id, and the clinics that have none (a startup error when validation is on)
 */
export function resolveTokens(
  clinics: readonly Clinic[],
  defaults: readonly string[],
  env: Record<string, string | undefined>,
): { tokens: Map<string, string[]>; byAccount: Map<string, string[]>; missing: string[]; all: string[] } {
  const tokens = new Map<string, string[]>();
  const byAccount = new Map<string, string[]>();
  const missing: string[] = [];
  const all = new Set<string>(defaults);
  for (const clinic of clinics) {
    const own = clinic.authTokenEnv
      ? [env[clinic.authTokenEnv], env[`${clinic.authTokenEnv}_PREVIOUS`]].filter((t): t is string => typeof t === 'string' && t !== '')
      : [...defaults];
    if (own.length === 0) {
      missing.push(clinic.authTokenEnv ? `clinic "${clinic.id}": ${clinic.authTokenEnv} is not set` : `clinic "${clinic.id}": TWILIO_AUTH_TOKEN is not set`);
    }
    own.forEach((t) => all.add(t));
    tokens.set(clinic.id, own);
    if (clinic.accountSid) {
      byAccount.set(clinic.accountSid, [...new Set([...(byAccount.get(clinic.accountSid) ?? []), ...own])]);
    }
  }
  return { tokens, byAccount, missing, all: [...all] };
}
