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
  /** When the rules last loaded (a reload that changed nothing keeps the time). */
  readonly loadedAt: Date;
  /**
   * Clinics that are not served because their clinics-file entry or their rules are invalid
   * (start-up without STRICT_START, or a reload that could not bring them up). Their messages
   * are recorded and answered with the system-error text.
   */
  readonly broken?: readonly BrokenClinic[];
}

/** A clinic that is configured but cannot be served: what is known of it, and why. */
export interface BrokenClinic {
  /** Its id when the entry gives a usable one; else its place in the file, e.g. `clinics[2]`. */
  readonly name: string;
  /** The id its messages are recorded under (null when the entry gives no usable id). */
  readonly clinicId: string | null;
  /** Its numbers that are valid E.164 and owned by no other clinic: messages to them are recorded as this clinic's. */
  readonly phoneNumbers: readonly string[];
  /** Which part is invalid: its entry in the clinics file, or its rules. */
  readonly part: 'entry' | 'rules';
  readonly findings: readonly Finding[];
}

/** The broken clinic a number belongs to, if any. */
export function brokenClinicFor(snapshot: Snapshot, to: string): BrokenClinic | undefined {
  return snapshot.broken?.find((b) => b.phoneNumbers.includes(to));
}

export interface ReloadFailure {
  at: Date;
  findings: Finding[];
  /** The clinics that kept their last good rules; absent: the reload was refused whole. */
  clinics?: string[];
}

/**
 * Holds the clinics and their compiled rules; swapped whole on reload. A failed reload
 * keeps the last good snapshot live and is remembered for /readyz and metrics.
 */
export class LiveConfig {
  private current: Snapshot;
  private failure: ReloadFailure | null = null;
  /** Every clinic that has had rules live since the start: only those can be "live again". */
  private readonly served = new Set<string>();

  constructor(initial: Snapshot) {
    this.current = initial;
    initial.rules.forEach((_r, id) => this.served.add(id));
  }

  /** True when the clinic has had rules live since the start. */
  wasServed(clinicId: string): boolean {
    return this.served.has(clinicId);
  }

  snapshot(): Snapshot {
    return this.current;
  }

  swap(next: Snapshot): void {
    this.current = next;
    this.failure = null;
    next.rules.forEach((_r, id) => this.served.add(id));
  }

  recordFailure(findings: Finding[], at: Date, clinics?: string[]): void {
    this.failure = { at, findings, ...(clinics ? { clinics } : {}) };
  }

  lastFailure(): ReloadFailure | null {
    return this.failure;
  }
}

/**
 * Works out each clinic's auth tokens: its own env var (and `<NAME>_PREVIOUS` during
 * rotation) when it names one, else the default tokens.
 * @returns tokens by clinic id, and each variable that is not set with the clinics that need it (a startup error when validation is on)
 */
export function resolveTokens(
  clinics: readonly Clinic[],
  defaults: readonly string[],
  env: Record<string, string | undefined>,
): { tokens: Map<string, string[]>; byAccount: Map<string, string[]>; missing: Map<string, string[]>; all: string[] } {
  const tokens = new Map<string, string[]>();
  const byAccount = new Map<string, string[]>();
  const missing = new Map<string, string[]>();
  const all = new Set<string>(defaults);
  for (const clinic of clinics) {
    const own = clinic.authTokenEnv
      ? [env[clinic.authTokenEnv], env[`${clinic.authTokenEnv}_PREVIOUS`]].filter((t): t is string => typeof t === 'string' && t !== '')
      : [...defaults];
    if (own.length === 0) {
      const variable = clinic.authTokenEnv ?? 'TWILIO_AUTH_TOKEN';
      missing.set(variable, [...(missing.get(variable) ?? []), clinic.id]);
    }
    own.forEach((t) => all.add(t));
    tokens.set(clinic.id, own);
    if (clinic.accountSid) {
      byAccount.set(clinic.accountSid, [...new Set([...(byAccount.get(clinic.accountSid) ?? []), ...own])]);
    }
  }
  return { tokens, byAccount, missing, all: [...all] };
}
