import type { SessionRecord, SignInFlow, StaffSessionStore } from './session-store.js';
import { newCookieId, storedId } from './session-cookie.js';
import type { StaffDirectory } from './staff-file.js';
import type { StaffIdentity, StaffPerson } from './staff-person.js';

/** Absolute session limit: 12 hours, however active. */
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
/** How long a sign-in may wait for the provider's callback. */
export const SIGN_IN_FLOW_MS = 10 * 60 * 1000;
/** Activity is written at most this often (ms): the idle timer then errs early, never late. */
const TOUCH_EVERY_MS = 30_000;

export interface StaffSessionsOptions {
  store: StaffSessionStore;
  /** The staff file in force (read on every request). */
  directory: () => StaffDirectory;
  idleMs: number;
  absoluteMs?: number;
  clock?: () => Date;
}

/** A session's person as of now, or why there is none. */
export type SessionLookup = { ok: true; person: StaffPerson; id: string } | { ok: false; reason: 'none' | 'expired' };

/**
 * Server-side staff sessions: the cookie holds a random id; the store keeps its SHA-256,
 * the identity, and the idle and absolute deadlines. The person's clinics come from the
 * staff file at each lookup.
 */
export class StaffSessions {
  private readonly clock: () => Date;
  private readonly absoluteMs: number;

  constructor(private readonly options: StaffSessionsOptions) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.absoluteMs = options.absoluteMs ?? SESSION_ABSOLUTE_MS;
  }

  get idleMs(): number {
    return this.options.idleMs;
  }

  /** Starts a session for a signed-in identity; returns the new cookie id (a fresh one every sign-in). */
  async start(identity: StaffIdentity): Promise<string> {
    const now = this.clock();
    const cookieId = newCookieId();
    const absoluteExpiresAt = new Date(now.getTime() + this.absoluteMs);
    await this.options.store.create({
      id: storedId(cookieId),
      kind: 'session',
      identity,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(Math.min(now.getTime() + this.options.idleMs, absoluteExpiresAt.getTime())),
      absoluteExpiresAt,
    });
    // Nothing depends on it (reads check expiry), but on servers without TTL this keeps the collection small.
    void this.options.store.sweep(now).catch(() => undefined);
    return cookieId;
  }

  /**
   * The person behind a session cookie.
   * @param touch - counts as activity (a page or an action); false for a stream's re-check
   */
  async lookup(cookieId: string | null, touch: boolean): Promise<SessionLookup> {
    if (cookieId === null) {
      return { ok: false, reason: 'none' };
    }
    const now = this.clock();
    const id = storedId(cookieId);
    const record = await this.options.store.find(id, now);
    if (!record || record.kind !== 'session') {
      return { ok: false, reason: record ? 'none' : 'expired' };
    }
    if (touch && now.getTime() - record.lastSeenAt.getTime() >= Math.min(TOUCH_EVERY_MS, this.options.idleMs / 10)) {
      await this.options.store.touch(id, now, new Date(Math.min(now.getTime() + this.options.idleMs, record.absoluteExpiresAt.getTime())));
    }
    return { ok: true, id, person: { ...record.identity, clinics: this.options.directory().clinicsOf(record.identity.email) } };
  }

  /** Ends a session (sign-out). */
  async end(cookieId: string): Promise<void> {
    await this.options.store.delete(storedId(cookieId));
  }

  /** Keeps a sign-in in progress; returns its cookie id. */
  async beginSignIn(flow: SignInFlow): Promise<string> {
    const now = this.clock();
    const cookieId = newCookieId();
    const expiresAt = new Date(now.getTime() + SIGN_IN_FLOW_MS);
    const record: SessionRecord = { id: storedId(cookieId), kind: 'sign-in', flow, createdAt: now, lastSeenAt: now, expiresAt, absoluteExpiresAt: expiresAt };
    await this.options.store.create(record);
    return cookieId;
  }

  /** The sign-in in progress, used once (null: none, used already, or expired). */
  async takeSignIn(cookieId: string | null): Promise<SignInFlow | null> {
    if (cookieId === null) {
      return null;
    }
    const record = await this.options.store.take(storedId(cookieId), this.clock());
    return record?.kind === 'sign-in' ? record.flow : null;
  }
}
