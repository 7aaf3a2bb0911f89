import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['conversations:read', 'conversations:write'] as const;
export type Scope = (typeof SCOPES)[number];

/** One entry of KEYS_FILE. Only the key's SHA-256 is kept; the key itself is shown once, when made. */
export interface ApiKey {
  id: string;
  clinicId: string;
  /** What the key is for ("front desk"); not a person. */
  name: string;
  scopes: Scope[];
  /** Hex SHA-256 of the whole key string. */
  sha256: string;
  createdAt: Date;
  revoked: boolean;
  /** When `clinic-sms keys revoke` revoked it (absent on keys revoked by hand or never). */
  revokedAt?: Date;
  /** Refused from this time on (absent: no expiry). */
  expiresAt?: Date;
}

export const KEY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const KEY_PREFIX = 'csk';

/**
 * A key reads `csk.<id>.<secret>`: the id picks the entry (so a look-up is one map read and
 * the comparison is one constant-time check), the secret is 32 random bytes, base64url.
 */
const KEY_SHAPE = /^csk\.([a-z0-9][a-z0-9-]{0,62})\.([A-Za-z0-9_-]{20,200})$/;

/** Hex SHA-256 of a key string. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The id a presented key claims, or null when it is not shaped like one of ours. */
export function keyIdOf(presented: string): string | null {
  return KEY_SHAPE.exec(presented)?.[1] ?? null;
}

/**
 * Makes a new key and its file entry (for `clinic-sms keys create`): the key is returned
 * once and never stored.
 * @param entry - id, clinic, name, scopes
 * @param now - createdAt
 */
export function createApiKey(entry: Pick<ApiKey, 'id' | 'clinicId' | 'name' | 'scopes'>, now: Date): { key: string; entry: ApiKey } {
  if (!KEY_ID.test(entry.id)) {
    throw new Error('key id: lower-case letters, digits and dashes');
  }
  const key = `${KEY_PREFIX}.${entry.id}.${randomBytes(32).toString('base64url')}`;
  return { key, entry: { ...entry, sha256: hashApiKey(key), createdAt: now, revoked: false } };
}

/** Compares two hex digests in constant time (equal length: both are SHA-256). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length === 32 && timingSafeEqual(x, y);
}
