import { expect } from 'chai';
import { MemoryFailedKeyAttempts, limitKey } from '../../../src/auth/failed-key-attempts.js';
import type { AppError } from '../../../src/errors.js';

const T0 = new Date('2026-12-01T10:00:00Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

function refusal(fn: () => void): AppError | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err as AppError;
  }
}

describe('failed key attempts per address', function () {
  it('when an address fails maxFailures times, then it is refused with 429 and Retry-After until the window after the last failure ends', function () {
    const attempts = new MemoryFailedKeyAttempts({ maxFailures: 3, windowMs: 60_000 });
    attempts.failed('203.0.113.7', at(0));
    attempts.failed('203.0.113.7', at(1000));
    expect(refusal(() => attempts.check('203.0.113.7', at(1500)))).to.equal(null);
    attempts.failed('203.0.113.7', at(2000));
    const err = refusal(() => attempts.check('203.0.113.7', at(2000)));
    expect(err).to.include({ code: 'TOO_MANY_REQUESTS', status: 429, retryAfterSeconds: 60 });
    expect(refusal(() => attempts.check('203.0.113.7', at(61_500)))?.retryAfterSeconds).to.equal(1);
    expect(refusal(() => attempts.check('203.0.113.7', at(62_000)))).to.equal(null);
    // Another address was never touched.
    expect(refusal(() => attempts.check('203.0.113.8', at(2000)))).to.equal(null);
  });

  it('when failures are spread over more than the window, then they never add up to a refusal', function () {
    const attempts = new MemoryFailedKeyAttempts({ maxFailures: 3, windowMs: 60_000 });
    for (let i = 0; i < 10; i += 1) {
      attempts.failed('198.51.100.1', at(i * 31_000));
      expect(refusal(() => attempts.check('198.51.100.1', at(i * 31_000 + 1)))).to.equal(null);
    }
  });

  it('when IPv6 addresses of one /64 fail, then they count together; an IPv4-mapped address counts as its IPv4 address', function () {
    expect(limitKey('2001:db8:1:2:aaaa::1')).to.equal('2001:db8:1:2::/64');
    expect(limitKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).to.equal('2001:db8:1:2::/64');
    expect(limitKey('::1')).to.equal('0:0:0:0::/64');
    expect(limitKey('::ffff:203.0.113.9')).to.equal('203.0.113.9');
    expect(limitKey('203.0.113.9')).to.equal('203.0.113.9');
    const attempts = new MemoryFailedKeyAttempts({ maxFailures: 2, windowMs: 60_000 });
    attempts.failed('2001:db8:1:2::a', at(0));
    attempts.failed('2001:db8:1:2::b', at(0));
    expect(refusal(() => attempts.check('2001:db8:1:2::c', at(1)))?.status).to.equal(429);
    expect(refusal(() => attempts.check('2001:db8:1:3::c', at(1)))).to.equal(null);
  });

  it('when more addresses fail than it tracks, then memory stays bounded: expired entries go first, then the oldest', function () {
    const attempts = new MemoryFailedKeyAttempts({ maxFailures: 2, windowMs: 60_000, maxAddresses: 100 });
    attempts.failed('192.0.2.1', at(0));
    attempts.failed('192.0.2.1', at(0));
    for (let i = 0; i < 500; i += 1) {
      attempts.failed(`10.0.${Math.floor(i / 250)}.${i % 250}`, at(1000));
    }
    expect(attempts.size).to.be.at.most(100);
    // The blocked address was the oldest entry of a full table: evicted, a known cost of the bound.
    expect(refusal(() => attempts.check('192.0.2.1', at(2000)))).to.equal(null);
    // Past the window every old entry is expired and makes room without evicting a live one.
    attempts.failed('192.0.2.2', at(120_000));
    attempts.failed('192.0.2.2', at(120_000));
    expect(attempts.size).to.equal(1);
    expect(refusal(() => attempts.check('192.0.2.2', at(120_001)))?.status).to.equal(429);
  });
});
