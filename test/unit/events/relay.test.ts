import { expect } from 'chai';
import { MemoryEventOutboxStore } from '../../../src/events/memory-outbox-store.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import { aMessage } from '../../contract/store-fixtures.js';
import type { EventDelivery } from '../../../src/events/outbox-store.js';
import { outboxRelay } from '../../../src/events/relay.js';
import { newClinicId } from '../../contract/store-fixtures.js';
import { anEndpoint, anEvent } from '../../support/event-builders.js';
import { turnCounter } from '../../support/event-loop-turns.js';

describe('OutboxRelay', () => {
  it('when the relay takes a batch on the embedded store, then it stops at the batch size and lets the event loop turn between two messages of a lane', async () => {
    const clinicId = newClinicId();
    const source = new MemoryStore();
    for (let i = 0; i < 4; i++) {
      const event = anEvent({ clinicId });
      await source.claimMessage(aMessage({ clinicId, messageSid: event.messageSid }));
      await source.completeMessage(event.messageSid, { status: 'processed', patientIds: [], rulesFired: [], actions: [], reply: null, completedAt: new Date(), outbox: [event] });
    }
    const store = new MemoryEventOutboxStore();
    const turnsAtAdd: number[] = [];
    const add = store.addJobs.bind(store);
    store.addJobs = async (deliveries: readonly EventDelivery[]): Promise<number> => {
      turnsAtAdd.push(turns.now());
      return add(deliveries);
    };
    const endpoint = anEndpoint({ clinicId });
    const relay = outboxRelay({ source, store, endpointsFor: () => [endpoint], logger: { warn: () => undefined }, batch: 3, concurrency: 1 });
    const turns = turnCounter();
    try {
      expect(await relay.runOnce()).to.equal(3);
    } finally {
      turns.stop();
    }
    expect(turnsAtAdd).to.have.length(3);
    expect(turnsAtAdd[1], 'a turn between the first and second message').to.be.greaterThan(turnsAtAdd[0] as number);
    expect(turnsAtAdd[2], 'a turn between the second and third message').to.be.greaterThan(turnsAtAdd[1] as number);
    expect(await source.pendingOutboxes(10), 'the fourth message waits for the next batch').to.have.length(1);
  });
});
