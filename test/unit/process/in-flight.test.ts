import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInFlight } from '../../../src/process/shutdown.js';

describe('requests in flight', () => {
  it('when a request is in flight or started within the window, then the instance is serving; after a quiet window, it is not', async () => {
    const inFlight = createInFlight();
    expect(inFlight.activeWithin(50), 'no request yet').to.equal(false);
    inFlight.enter();
    await sleep(80);
    expect(inFlight.activeWithin(50), 'one still in flight').to.equal(true);
    inFlight.leave();
    expect(inFlight.activeWithin(50), 'the last one started 80 ms ago and has ended').to.equal(false);
    inFlight.enter();
    inFlight.leave();
    expect(inFlight.activeWithin(50), 'one started just now').to.equal(true);
    await sleep(80);
    expect(inFlight.activeWithin(50)).to.equal(false);
  });
});
