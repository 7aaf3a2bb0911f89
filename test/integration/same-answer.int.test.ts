import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { createLogger } from '../../src/logger.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { SpoolReplayer } from '../../src/spool/replayer.js';
import { Spool } from '../../src/spool/spool.js';
import type { Store } from '../../src/store/store.js';
import { eventually } from '../support/event-receiver.js';
import { storeKinds } from '../support/store-kinds.js';
import { slowStore } from '../support/store-wrappers.js';
import { WEBHOOK_PATH, addPatient, closingTestApps, inboundParams, signedRequest, uniquePhone, type TestApp } from '../support/test-app.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';

const SYSTEM_ERROR = 'technical difficulties';

/** Every delivery of one MessageSid answers with the same TwiML, however slow the database. */
for (const kind of storeKinds('same-answer')) {
  describe(`one answer per MessageSid under load (${kind.name})`, function () {
    const buildTestApp = closingTestApps();
    this.timeout(30_000);
    let dir: string;
    let real: Store;
    let dispose: (() => Promise<void>) | undefined;
    let spool: Spool;
    let delays: Record<string, number>;

    beforeEach(async function () {
      dispose = undefined;
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      real = made.store;
      dispose = made.dispose;
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-same-answer-'));
      spool = await Spool.open({ dir, logger: createLogger('silent') });
      delays = {};
    });

    afterEach(async () => {
      await dispose?.();
      if (dir) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    /** An app on the real store, slowed per method by `delays` (`*`: every method). */
    const app = (options: { pipelineDeadlineMs?: number } = {}): Promise<TestApp> =>
      buildTestApp({
        store: slowStore(real, (method) => delays[method] ?? delays['*'] ?? 0),
        spool: { append: async (...args: Parameters<Spool['append']>): Promise<void> => void (await spool.append(...args)) },
        ...options,
      });

    const deliver = (t: TestApp, params: Record<string, string>): Promise<request.Response> => {
      const { body, signature } = signedRequest(params);
      return request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body).then((r) => r);
    };

    it('when 20 deliveries of one STOP arrive at once and the database reads slowly, then all 20 get the same TwiML and the number is opted out once', async () => {
      const t = await app();
      const phone = uniquePhone();
      await addPatient(real, { phone });
      const stop = inboundParams({ From: phone, Body: 'STOP' });
      // Writes answer at once; reading a record back takes most of the deadline.
      delays = { '*': 50, getMessage: 4450 };

      const replies = await Promise.all(Array.from({ length: 20 }, () => deliver(t, stop)));

      expect(replies.map((r) => r.status)).to.deep.equal(Array.from({ length: 20 }, () => 200));
      expect(new Set(replies.map((r) => r.text)).size, replies.map((r) => r.text).join('\n')).to.equal(1);
      expect(replies[0]?.text).to.contain('unsubscribed');
      delays = {};
      // A repeat's audit note may land after its answer (it waits 250 ms at most: the answer
      // is decided); on a loaded machine the last notes are still on their way.
      await eventually(async () => (await real.getMessage(stop.MessageSid as string))?.duplicateDeliveries === 19, 10_000, '19 repeats noted').catch(() => undefined);
      const record = await real.getMessage(stop.MessageSid as string);
      expect(record?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['opt-out:opted-out']);
      expect(record?.duplicateDeliveries).to.equal(19);
      expect(await real.getOptOut('downtown', phone)).to.include({ optedOut: true, messageSid: stop.MessageSid });
    });

    it('when the first delivery times out, then all 20 answer the system-error text, a later repeat too, and the replay applies the STOP once', async () => {
      const t = await app({ pipelineDeadlineMs: 1000 });
      const other = await app({ pipelineDeadlineMs: 1000 }); // a second instance on the same database
      const phone = uniquePhone();
      await addPatient(real, { phone });
      const stop = inboundParams({ From: phone, Body: 'STOP' });
      delays = { '*': 600 }; // the claim alone takes most of the 1 s deadline

      const first = deliver(t, stop);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const replies = [await first, ...(await Promise.all(Array.from({ length: 19 }, (_, i) => deliver(i % 2 === 0 ? t : other, stop))))];

      expect(replies.map((r) => r.text).filter((text) => !text.includes(SYSTEM_ERROR))).to.deep.equal([]);
      delays = {};
      expect(spool.depth()).to.equal(1);
      const pipeline = { store: real, staff: conversationRouting(t.conversations), logger: createLogger('silent'), metrics: t.metrics, clock: () => new Date() };
      await new SpoolReplayer({ ...pipeline, spool, replay: (message, at) => handleMessage(pipeline, t.live.snapshot(), message, 'replay', at) }).replayNow();

      const record = await real.getMessage(stop.MessageSid as string);
      expect(record?.status).to.equal('replayed');
      expect(record?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['opt-out:opted-out']);
      expect(await real.getOptOut('downtown', phone)).to.include({ optedOut: true, messageSid: stop.MessageSid });
      expect((await deliver(other, stop)).text).to.contain(SYSTEM_ERROR);
      expect((await real.getMessage(stop.MessageSid as string))?.gaveUpAt).to.be.instanceOf(Date);
    });
  });
}
