import { createServer, type Server } from 'node:http';
import { appointmentStatus } from '../../src/domain.js';
import { expect } from 'chai';
import request from 'supertest';
import { AppError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { storeKinds } from '../support/store-kinds.js';
import { WEBHOOK_PATH, addPatient, closingTestApps, inboundParams, signedRequest, uniquePhone, type TestApp } from '../support/test-app.js';
import { conversationOf } from '../support/conversations.js';

const STORES = storeKinds('retries');

const tomorrow = (): Date => new Date(Date.now() + 86_400_000);

for (const kind of STORES) {
  describe(`repeated deliveries of one MessageSid (${kind.name})`, function () {
    const buildTestApp = closingTestApps();
    let t: TestApp;
    let server: Server;
    let dispose: () => Promise<void>;

    beforeEach(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      dispose = made.dispose;
      t = await buildTestApp({ store: made.store });
      server = createServer(t.app.callback());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });

    afterEach(async () => {
      if (server) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await dispose?.();
    });

    const post = (params: Record<string, string>): request.Test => {
      const { body, signature } = signedRequest(params);
      return request(server).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
    };

    it('when a CONFIRM is delivered again after the first finished, then each repeat gets the first reply and nothing runs twice', async () => {
      const phone = uniquePhone();
      const patient = await addPatient(t.store, { phone, firstName: 'Ana' }, [{ startsAt: tomorrow() }]);
      const params = inboundParams({ From: phone, Body: 'CONFIRM' });

      const first = await post(params);
      const second = await post(params);
      const third = await post(params);

      expect(first.text).to.contain('is confirmed');
      expect(second.status).to.equal(200);
      expect(second.text).to.equal(first.text);
      expect(third.text).to.equal(first.text);
      const record = await t.store.getMessage(params.MessageSid as string);
      expect(record?.status).to.equal('processed');
      expect(record?.actions.map((a) => `${a.type}:${a.outcome}`)).to.deep.equal(['confirm-appointment:confirmed']);
      expect(record?.duplicateDeliveries).to.equal(2);
      expect(record?.lastDuplicateAt).to.be.instanceOf(Date);
      expect(appointmentStatus((await t.store.getAppointment(`a-${patient.id}-0`))!)).to.equal('confirmed');
      expect(await t.metrics.registry.getSingleMetricAsString('sms_duplicate_deliveries_total')).to.match(/ 2$/m);
    });

    it('when CONFIRM is delivered 5 times at once, then all get the same reply, the appointment is confirmed once, and there is one record', async () => {
      const phone = uniquePhone();
      const patient = await addPatient(t.store, { phone, firstName: 'Ana' }, [{ startsAt: tomorrow() }]);
      const params = inboundParams({ From: phone, Body: 'CONFIRM' });

      const replies = await Promise.all(Array.from({ length: 5 }, () => post(params)));

      expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
      expect(new Set(replies.map((r) => r.text)).size).to.equal(1);
      expect(replies[0]?.text).to.contain('is confirmed');
      const record = await t.store.getMessage(params.MessageSid as string);
      expect(record?.actions).to.have.length(1);
      expect(record?.actions[0]).to.include({ type: 'confirm-appointment', outcome: 'confirmed' });
      expect(record?.duplicateDeliveries).to.equal(4);
      const appointment = await t.store.getAppointment(`a-${patient.id}-0`);
      expect(appointmentStatus(appointment!)).to.equal('confirmed');
      const records = [];
      for await (const r of t.store.listMessages({ clinicId: 'downtown', since: new Date(Date.now() - 60_000), until: new Date(Date.now() + 60_000) })) {
        if (r.message.from === phone) {
          records.push(r);
        }
      }
      expect(records).to.have.length(1);
    });

    it('when a CANCEL request is delivered 5 times at once, then staff get one cancel request naming the appointment, in an open conversation', async () => {
      const phone = uniquePhone();
      const patient = await addPatient(t.store, { phone }, [{ startsAt: tomorrow() }]);
      const params = inboundParams({ From: phone, Body: 'CANCEL my appointment' });

      const replies = await Promise.all(Array.from({ length: 5 }, () => post(params)));

      expect(new Set(replies.map((r) => r.text)).size).to.equal(1);
      expect(replies[0]?.text).to.contain('request to cancel');
      const routed = t.routed.filter((r) => r.message.messageSid === params.MessageSid);
      expect(routed.map((r) => [r.reason, r.appointmentId])).to.deep.equal([['cancel-request', `a-${patient.id}-0`]]);
      expect((await conversationOf(t.conversations, 'downtown', phone))?.status).to.equal('open');
      expect(appointmentStatus((await t.store.getAppointment(`a-${patient.id}-0`))!)).to.equal('cancel-requested');
    });

    it('when a free-text message is delivered 5 times at once, then staff see it once', async () => {
      const phone = uniquePhone();
      await addPatient(t.store, { phone });
      const params = inboundParams({ From: phone, Body: 'Is parking free?' });

      await Promise.all(Array.from({ length: 5 }, () => post(params)));

      expect(t.routed.filter((r) => r.message.messageSid === params.MessageSid).map((r) => r.reason)).to.deep.equal(['message']);
      const thread = await t.conversations.inboundMessages('downtown', phone, 10);
      expect(thread.map((r) => r.messageSid)).to.deep.equal([params.MessageSid]);
    });

    it('when STOP is delivered 3 times at once, then every delivery gets the opt-out confirmation and the sender is opted out once', async () => {
      const phone = uniquePhone();
      const params = inboundParams({ From: phone, Body: 'STOP' });

      const replies = await Promise.all(Array.from({ length: 3 }, () => post(params)));

      expect(new Set(replies.map((r) => r.text)).size).to.equal(1);
      expect(replies[0]?.text).to.contain('You are unsubscribed');
      expect(await t.store.getOptOut('downtown', phone)).to.include({ optedOut: true, messageSid: params.MessageSid });
    });
  });
}

describe('a repeated delivery after the first one failed', () => {
  const buildTestApp = closingTestApps();
  it('when the first delivery hit an error, then the repeat takes the record over and processes the message once', async () => {
    class FlakyStore extends MemoryStore {
      failures = 1;
      override async touchSender(...args: Parameters<MemoryStore['touchSender']>): ReturnType<MemoryStore['touchSender']> {
        if (this.failures > 0) {
          this.failures -= 1;
          throw new AppError('STORE_ERROR', 'transient');
        }
        return super.touchSender(...args);
      }
    }
    const t = await buildTestApp({ store: new FlakyStore() });
    const phone = uniquePhone();
    const patient = await addPatient(t.store, { phone }, [{ startsAt: tomorrow() }]);
    const params = inboundParams({ From: phone, Body: 'CONFIRM' });
    const { body, signature } = signedRequest(params);
    const send = (): request.Test => request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);

    const first = await send();
    expect(first.text).to.contain('technical difficulties');
    expect((await t.store.getMessage(params.MessageSid as string))?.status).to.equal('error');

    const second = await send();
    expect(second.text).to.contain('is confirmed');
    const record = await t.store.getMessage(params.MessageSid as string);
    expect(record?.status).to.equal('processed');
    expect(record?.actions.map((a) => a.outcome)).to.deep.equal(['confirmed']);
    expect(appointmentStatus((await t.store.getAppointment(`a-${patient.id}-0`))!)).to.equal('confirmed');
  });
  it('when a CONFIRM moved the appointment but its completion failed, then the repeat finds the move its own (by MessageSid), answers confirmed and its completion carries the appointment.confirmed event', async () => {
    class FlakyCompletion extends MemoryStore {
      failures = 1;
      override async completeMessage(...args: Parameters<MemoryStore['completeMessage']>): ReturnType<MemoryStore['completeMessage']> {
        if (this.failures > 0 && args[1].status === 'processed') {
          this.failures -= 1;
          throw new AppError('STORE_ERROR', 'transient');
        }
        return super.completeMessage(...args);
      }
    }
    const t = await buildTestApp({ store: new FlakyCompletion() });
    const phone = uniquePhone();
    const patient = await addPatient(t.store, { phone }, [{ startsAt: tomorrow() }]);
    const params = inboundParams({ From: phone, Body: 'CONFIRM' });
    const { body, signature } = signedRequest(params);
    const send = (): request.Test => request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
    const appointmentId = `a-${patient.id}-0`;

    const first = await send();
    expect(first.text).to.contain('technical difficulties');
    expect((await t.store.getMessage(params.MessageSid as string))?.status).to.equal('error');
    expect((await t.store.getAppointment(appointmentId))?.patientResponse?.messageSid, 'the move was written').to.equal(params.MessageSid);

    const second = await send();
    expect(second.text).to.contain('is confirmed');
    const record = await t.store.getMessage(params.MessageSid as string);
    expect(record?.actions).to.deep.equal([
      { type: 'confirm-appointment', outcome: 'confirmed', ruleName: record?.actions[0]?.ruleName, detail: { appointmentId, from: null, to: 'confirmed' } },
    ]);
    expect(record?.outbox?.map((e) => [e.type, e.data.appointmentId, e.data.status, e.data.previousStatus])).to.deep.equal([['appointment.confirmed', appointmentId, 'confirmed', null]]);
  });
});
