import type { StaffIdentity } from './staff-person.js';

/** What a sign-in in progress keeps until the provider sends the browser back. */
export interface SignInFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where to go after signing in (a /staff path). */
  returnTo: string;
  /**
   * Set when the provider was asked to authenticate the person again (prompt=login, max_age=0,
   * after an automatic logoff or a sign-out): when it was asked, in seconds since the epoch;
   * the ID token's auth_time must not be older.
   */
  reauthSince?: number;
}

/**
 * One server-side record, keyed by the SHA-256 of the random id the cookie holds (the
 * database never holds a usable cookie). A `session` is a signed-in person; a `sign-in`
 * is a flow waiting for its callback (one use, ten minutes).
 */
export type SessionRecord =
  | { id: string; kind: 'session'; identity: StaffIdentity; createdAt: Date; lastSeenAt: Date; expiresAt: Date; absoluteExpiresAt: Date }
  | { id: string; kind: 'sign-in'; flow: SignInFlow; createdAt: Date; lastSeenAt: Date; expiresAt: Date; absoluteExpiresAt: Date };

/**
 * The staff sessions' store part (collection `staffSessions`). `expiresAt` is when the
 * record stops counting: the idle deadline, never past `absoluteExpiresAt`. Reads check it
 * (a TTL index may also clear old records, but nothing depends on one).
 */
export interface StaffSessionStore {
  init(): Promise<void>;
  create(record: SessionRecord): Promise<void>;
  /** The record, or null when there is none or it expired by `now` (an expired one is removed). */
  find(id: string, now: Date): Promise<SessionRecord | null>;
  /** Removes and returns the record (null: none, or expired): a sign-in flow is used once. */
  take(id: string, now: Date): Promise<SessionRecord | null>;
  /** Records activity: `lastSeenAt` and the new `expiresAt`. */
  touch(id: string, lastSeenAt: Date, expiresAt: Date): Promise<void>;
  delete(id: string): Promise<void>;
  /** Removes every record expired by `now`; returns how many. */
  sweep(now: Date): Promise<number>;
}

/** The embedded store's sessions: a map in this process (a restart signs everyone out). */
export class MemorySessionStore implements StaffSessionStore {
  private readonly records = new Map<string, SessionRecord>();

  async init(): Promise<void> {}

  async create(record: SessionRecord): Promise<void> {
    if (this.records.has(record.id)) {
      throw new Error('session id already in use');
    }
    this.records.set(record.id, structuredClone(record));
  }

  async find(id: string, now: Date): Promise<SessionRecord | null> {
    const record = this.records.get(id);
    if (!record) {
      return null;
    }
    if (record.expiresAt <= now) {
      this.records.delete(id);
      return null;
    }
    return structuredClone(record);
  }

  async take(id: string, now: Date): Promise<SessionRecord | null> {
    const record = await this.find(id, now);
    this.records.delete(id);
    return record;
  }

  async touch(id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    const record = this.records.get(id);
    if (record) {
      record.lastSeenAt = new Date(lastSeenAt);
      record.expiresAt = new Date(expiresAt);
    }
  }

  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }

  async sweep(now: Date): Promise<number> {
    let removed = 0;
    for (const [id, record] of this.records) {
      if (record.expiresAt <= now) {
        this.records.delete(id);
        removed += 1;
      }
    }
    return removed;
  }
}
