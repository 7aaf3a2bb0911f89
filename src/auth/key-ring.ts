import { hashApiKey, keyIdOf, sameDigest, type ApiKey } from './api-key.js';

/** A digest no key has, compared against when the id is unknown so that every refusal costs the same. */
const NO_KEY = '0'.repeat(64);

/**
 * The keys in force, swapped whole when KEYS_FILE is reloaded (a request holds the ring it
 * started with). Authentication hashes the presented key and compares digests in constant
 * time; an unknown id, a revoked key and a wrong secret are refused alike.
 */
export class KeyRing {
  private byId: ReadonlyMap<string, ApiKey>;

  constructor(keys: readonly ApiKey[] = []) {
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  /** Replaces every key at once. */
  swap(keys: readonly ApiKey[]): void {
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The key a Bearer token stands for, or null.
   * @param presented - the token as sent
   */
  authenticate(presented: string, now: Date = new Date()): ApiKey | null {
    const id = keyIdOf(presented);
    const key = id === null ? undefined : this.byId.get(id);
    const digest = hashApiKey(presented);
    const matches = sameDigest(digest, key?.sha256 ?? NO_KEY);
    return key && matches && usable(key, now) ? key : null;
  }

  /** Marks these keys revoked (a keys file that cannot be parsed still revokes what it says). */
  revoke(ids: readonly string[]): void {
    this.byId = new Map([...this.byId].map(([id, k]) => [id, ids.includes(id) && !k.revoked ? { ...k, revoked: true } : k]));
  }

  /**
   * The id of the key a refused token proves it holds: its right secret, but the key is
   * revoked or expired. Null for anything else (an unknown id or a wrong secret proves nothing).
   * @param presented - the token as sent
   */
  refusedKeyId(presented: string, now: Date = new Date()): string | null {
    const id = keyIdOf(presented);
    const key = id === null ? undefined : this.byId.get(id);
    return key && !usable(key, now) && sameDigest(hashApiKey(presented), key.sha256) ? key.id : null;
  }
}

/** Neither revoked nor expired at `now`. */
function usable(key: ApiKey, now: Date): boolean {
  return !key.revoked && (key.expiresAt === undefined || now < key.expiresAt);
}
