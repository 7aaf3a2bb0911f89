import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { appointmentStatus } from '../../src/domain.js';
import { createLogger } from '../../src/logger.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { SpoolReplayer } from '../../src/spool/replayer.js';
import { Spool } from '../../src/spool/spool.js';
import { storeKinds } from '../support/store-kinds.js';
import { switchableStore } from '../support/store-wrappers.js';
import { WEBHOOK_PATH, addPatient, closingTestApps, inboundParams, signedRequest, uniquePhone, type TestApp } from '../support/test-app.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';

/**
 * Messages spooled during an outage are replayed after newer ones were handled live: the
 * patient's state must follow the order they texted in, and the late message is audited.
 */
for (const kind of storeKinds('consent-order')) {
  describe(`consent and responses follow the order patients texted (${kind.name})`, function () {
    const buildTestApp = closingTestApps();
    let dir: string;
    let dispose: (() => Promise<void>) | undefined;
    let t: TestApp;
    let spool: Spool;
    let db: ReturnType<typeof switchableStore>;
    let clock: Date;

    beforeEach(async function () {
      dispose = undefined;
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      dispose = made.dispose;
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-consent-'));
      spool = await Spool.open({ dir, logger: createLogger('silent') });
      db = switchableStore(made.store);
      clock = new Date();
      const sink = { append: async (...args: Parameters<Spool['append']>): Promise<void> => void (await spool.append(...args)) };
      t = await buildTestApp({ store: db.store, spool: sink, clock: () => new Date(clock) });
    });

    afterEach(async () => {
      await dispose?.();
      if (dir) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    const post = (params: Record<string, string>): request.Test => {
      const { body, signature } = signedRequest(params);
      return request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
    };

    /** Texts `body` while the database is down: the message is spooled with its receive time. */
    async function textDuringOutage(params: Record<string, string>): Promise<void> {
      db.down = true;
      expect((await post(params)).text).to.contain('technical difficulties');
      db.down = false;
    }

    async function replay(): Promise<void> {
      const pipeline = { store: t.store, staff: conversationRouting(t.conversations), logger: createLogger('silent'), metrics: t.metrics, clock: () => new Date(clock) };
      const report = await new SpoolReplayer({ ...pipeline, spool, replay: (message, at) => handleMessage(pipeline, t.live.snapshot(), message, 'replay', at) }).replayNow();
      expect(report).to.include({ replayed: 1, left: 0 });
    }

    it('when a spooled STOP is replayed after a newer START was handled live, then the number ends opted in, both are audited, and the STOP is marked stale', async () => {
      const phone = uniquePhone();
      await addPatient(t.store, { phone });
      const stop = inboundParams({ From: phone, Body: 'STOP' });
      const start = inboundParams({ From: phone, Body: 'START' });
      const stoppedAt = new Date(clock);

      await textDuringOutage(stop);
      clock = new Date(clock.getTime() + 60_000);
      expect((await post(start)).status).to.equal(200);
      clock = new Date(clock.getTime() + 60_000);
      await replay();

      expect(await t.store.getOptOut('downtown', phone)).to.include({ optedOut: false, messageSid: start.MessageSid });
      const started = await t.store.getMessage(start.MessageSid as string);
      expect(started?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['opt-in:already-opted-in']);
      const stopped = await t.store.getMessage(stop.MessageSid as string);
      expect(stopped).to.include({ status: 'replayed' });
      expect(stopped?.receivedAt).to.deep.equal(stoppedAt);
      expect(stopped?.actions).to.deep.equal([
        { type: 'opt-out', outcome: 'stale', ruleName: stopped?.actions[0]?.ruleName, detail: { optedOut: false, newerAt: started?.receivedAt.toISOString() } },
      ]);
    });

    it('when a spooled START is replayed after a newer STOP was handled live, then the number stays opted out', async () => {
      const phone = uniquePhone();
      await addPatient(t.store, { phone });
      await post(inboundParams({ From: phone, Body: 'STOP' }));
      clock = new Date(clock.getTime() + 60_000);
      const start = inboundParams({ From: phone, Body: 'START' });
      await textDuringOutage(start);
      clock = new Date(clock.getTime() + 60_000);
      const stop = inboundParams({ From: phone, Body: 'STOP' });
      await post(stop);
      await replay();

      expect(await t.store.getOptOut('downtown', phone)).to.include({ optedOut: true, messageSid: stop.MessageSid });
      expect((await t.store.getMessage(start.MessageSid as string))?.actions.map((a) => a.outcome)).to.deep.equal(['stale']);
    });

    it('when a spooled CANCEL is replayed after a newer CONFIRM was handled live, then the appointment stays confirmed and the CANCEL is marked stale', async () => {
      const phone = uniquePhone();
      const patient = await addPatient(t.store, { phone }, [{ startsAt: new Date(clock.getTime() + 3 * 86_400_000) }, { startsAt: new Date(clock.getTime() + 9 * 86_400_000) }]);
      const cancel = inboundParams({ From: phone, Body: 'CANCEL my appointment' });
      await textDuringOutage(cancel);
      clock = new Date(clock.getTime() + 60_000);
      const confirm = inboundParams({ From: phone, Body: 'CONFIRM' });
      expect((await post(confirm)).text).to.contain('confirmed');
      await replay();

      const soonest = await t.store.getAppointment(`a-${patient.id}-0`);
      expect(soonest && appointmentStatus(soonest)).to.equal('confirmed');
      expect(soonest?.patientResponse).to.deep.equal({ kind: 'confirmed', at: (await t.store.getMessage(confirm.MessageSid as string))?.receivedAt, messageSid: confirm.MessageSid });
      const later = await t.store.getAppointment(`a-${patient.id}-1`);
      expect(later).to.include({ status: 'scheduled' }).and.not.have.property('patientResponse');
      const cancelled = await t.store.getMessage(cancel.MessageSid as string);
      expect(cancelled?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['cancel-appointment:stale']);
      // The stale cancel request does not reach staff as a request.
      expect(t.routed.filter((i) => i.message.messageSid === cancel.MessageSid && i.reason === 'cancel-request')).to.deep.equal([]);
    });
  });
}
