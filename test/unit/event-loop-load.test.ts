import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventLoopBusy } from '../../src/event-loop-load.js';

describe('eventLoopBusy', () => {
  it('when the event loop ran code most of the window, then it is busy; when it mostly waited, then it is not', async () => {
    const busy = eventLoopBusy(0.5, 50);
    const until = Date.now() + 80;
    while (Date.now() < until) {
      // Holds the event loop, as a burst of webhook requests would.
    }
    expect(busy()).to.equal(true);
    await sleep(120);
    expect(busy()).to.equal(false);
  });
});
