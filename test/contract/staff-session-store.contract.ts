import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { SessionRecord, StaffSessionStore } from '../../src/staff/auth/session-store.js';

export interface SessionStoreUnderTest {
  sessions: StaffSessionStore;
  dispose(): Promise<void>;
}

const T0 = new Date('2026-06-01T12:00:00Z');
const plus = (ms: number): Date => new Date(T0.getTime() + ms);

function aSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: randomUUID().replace(/-/g, ''),
    kind: 'session',
    identity: { issuer: 'https://idp.example', subject: `sub-${randomUUID()}`, email: 'maria@downtown.example', name: 'Maria' },
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: plus(15 * 60_000),
    absoluteExpiresAt: plus(12 * 3600_000),
    ...overrides,
  } as SessionRecord;
}

/**
 * The behaviour every StaffSessionStore adapter must have, on the embedded store always and
 * on MongoDB when a server is found. Expiry is the store's own check on every read: no test
 * here waits for a TTL index (FerretDB has none).
 */
export function describeSessionStoreContract(name: string, make: () => Promise<SessionStoreUnderTest | null>): void {
  describe(`StaffSessionStore contract: ${name}`, function () {
    let under: SessionStoreUnderTest | null;
    before(async function () {
      under = await make();
      if (!under) {
        this.skip();
      }
    });
    after(async () => under?.dispose());
    const sessions = (): StaffSessionStore => under!.sessions;

    it('when a session is created, then find returns it as stored, dates as dates', async () => {
      const record = aSession();
      await sessions().create(record);
      expect(await sessions().find(record.id, plus(1000))).to.deep.equal(record);
    });

    it('when an id is unknown, then find and take answer null', async () => {
      expect(await sessions().find('nope', T0)).to.equal(null);
      expect(await sessions().take('nope', T0)).to.equal(null);
    });

    it('when a session is read at or after its expiresAt, then it is gone (read checks expiry; no TTL needed) and stays gone', async () => {
      const record = aSession();
      await sessions().create(record);
      expect(await sessions().find(record.id, record.expiresAt)).to.equal(null);
      expect(await sessions().find(record.id, T0)).to.equal(null);
    });

    it('when a session is touched, then its lastSeenAt and expiresAt move and the later read sees them', async () => {
      const record = aSession();
      await sessions().create(record);
      await sessions().touch(record.id, plus(10 * 60_000), plus(25 * 60_000));
      const found = await sessions().find(record.id, plus(20 * 60_000));
      expect(found?.lastSeenAt).to.deep.equal(plus(10 * 60_000));
      expect(found?.expiresAt).to.deep.equal(plus(25 * 60_000));
    });

    it('when a sign-in flow is taken, then it is returned once and never again', async () => {
      const record: SessionRecord = { id: randomUUID(), kind: 'sign-in', flow: { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/staff' }, createdAt: T0, lastSeenAt: T0, expiresAt: plus(600_000), absoluteExpiresAt: plus(600_000) };
      await sessions().create(record);
      expect(await sessions().take(record.id, plus(1000))).to.deep.equal(record);
      expect(await sessions().take(record.id, plus(1000))).to.equal(null);
    });

    it('when an expired flow is taken, then it answers null and is removed', async () => {
      const record: SessionRecord = { id: randomUUID(), kind: 'sign-in', flow: { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/staff' }, createdAt: T0, lastSeenAt: T0, expiresAt: plus(600_000), absoluteExpiresAt: plus(600_000) };
      await sessions().create(record);
      expect(await sessions().take(record.id, plus(600_000))).to.equal(null);
      expect(await sessions().find(record.id, T0)).to.equal(null);
    });

    it('when the same id is created twice, then the second is refused', async () => {
      const record = aSession();
      await sessions().create(record);
      let failed = false;
      await sessions().create({ ...record, identity: { ...(record as { identity: { issuer: string; subject: string; email: string; name: string } }).identity, subject: 'someone-else' } } as SessionRecord).catch(() => {
        failed = true;
      });
      expect(failed).to.equal(true);
      expect(await sessions().find(record.id, T0)).to.deep.equal(record);
    });

    it('when a session is deleted, then it is gone; sweep removes only expired ones', async () => {
      const gone = aSession();
      const old = aSession({ expiresAt: plus(1000) });
      const live = aSession({ expiresAt: plus(3600_000) });
      for (const r of [gone, old, live]) {
        await sessions().create(r);
      }
      await sessions().delete(gone.id);
      expect(await sessions().find(gone.id, T0)).to.equal(null);
      expect(await sessions().sweep(plus(2000))).to.be.at.least(1);
      expect(await sessions().find(old.id, T0)).to.equal(null);
      expect(await sessions().find(live.id, plus(2000))).to.deep.equal(live);
    });
  });
}
