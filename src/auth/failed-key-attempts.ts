import { isIPv4, isIPv6 } from 'node:net';
import { AppError } from '../errors.js';
import type { FailedKeyAttempts } from './require-api-key.js';

export interface FailedKeyLimits {
  /** Failed attempts an address may make within `windowMs` before it is refused. */
  maxFailures: number;
  /** The counting window, and how long an address is refused once over the limit, ms. */
  windowMs: number;
  /** Addresses tracked at most (memory bound); past it, expired entries go, then the oldest. */
  maxAddresses: number;
}

export const DEFAULT_FAILED_KEY_LIMITS: FailedKeyLimits = { maxFailures: 10, windowMs: 15 * 60_000, maxAddresses: 10_000 };

interface Entry {
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

/**
 * The address a limit applies to: IPv4 as is (an IPv4-mapped IPv6 address is IPv4), IPv6 by
 * its /64, since one client usually holds a whole /64 and could otherwise step through it.
 * @param address - ctx.ip
 */
export function limitKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped && isIPv4(mapped)) {
    return mapped;
  }
  if (!isIPv6(address)) {
    return address;
  }
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Failed staff API key attempts counted per client address, in this instance's memory. With
 * several instances an address gets up to `maxFailures` tries on each, which is enough: keys
 * carry 256 random bits, so the limit is there to stop noise and guessing from filling the
 * access trail and logs, not to make guessing feasible-but-slow. A refused address gets 429
 * with Retry-After, also with a good key, until its window ends; addresses that never fail cost
 * nothing. Only the staff API's key check consults it: the Twilio webhook never sees it.
 */
export class MemoryFailedKeyAttempts implements FailedKeyAttempts {
  private readonly limits: FailedKeyLimits;
  private readonly entries = new Map<string, Entry>();

  constructor(limits: Partial<FailedKeyLimits> = {}) {
    this.limits = { ...DEFAULT_FAILED_KEY_LIMITS, ...limits };
  }

  /** Addresses tracked now (for tests and the memory bound). */
  get size(): number {
    return this.entries.size;
  }

  check(address: string, now: Date): void {
    const entry = this.entries.get(limitKey(address));
    const t = now.getTime();
    if (entry && entry.blockedUntil > t) {
      throw new AppError('TOO_MANY_REQUESTS', 'too many failed API key attempts from this address; try again later', {
        retryAfterSeconds: Math.max(1, Math.ceil((entry.blockedUntil - t) / 1000)),
      });
    }
  }

  failed(address: string, now: Date): void {
    const key = limitKey(address);
    const t = now.getTime();
    let entry = this.entries.get(key);
    if (!entry || this.expired(entry, t)) {
      this.entries.delete(key);
      this.makeRoom(t);
      entry = { failures: 0, windowStart: t, blockedUntil: 0 };
      this.entries.set(key, entry);
    }
    entry.failures += 1;
    if (entry.failures >= this.limits.maxFailures) {
      entry.blockedUntil = t + this.limits.windowMs;
    }
  }

  private expired(entry: Entry, t: number): boolean {
    return entry.blockedUntil <= t && entry.windowStart + this.limits.windowMs <= t;
  }

  private makeRoom(t: number): void {
    if (this.entries.size < this.limits.maxAddresses) {
      return;
    }
    for (const [key, entry] of this.entries) {
      if (this.expired(entry, t)) {
        this.entries.delete(key);
      }
    }
    // Still full (a flood from many addresses): the oldest goes first (Map keeps insertion order).
    while (this.entries.size >= this.limits.maxAddresses) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
