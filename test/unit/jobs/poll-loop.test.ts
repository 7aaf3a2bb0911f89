import { expect } from 'chai';
import { PollLoop } from '../../../src/jobs/poll-loop.js';

describe('PollLoop', () => {
  it('when a step that needs no I/O keeps reporting more work, then the event loop turns between two steps', async () => {
    let turns = 0;
    let timer = setImmediate(function tick() {
      turns += 1;
      timer = setImmediate(tick);
    });
    const turnsAtStep: number[] = [];
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const loop = new PollLoop(
      async () => {
        turnsAtStep.push(turns);
        if (turnsAtStep.length === 3) {
          finished();
          return false;
        }
        return true;
      },
      60_000,
      (err) => {
        throw err;
      },
    );
    try {
      loop.start();
      await done;
      await loop.stop();
    } finally {
      clearImmediate(timer);
    }
    expect(turnsAtStep[1]).to.be.greaterThan(turnsAtStep[0] as number);
    expect(turnsAtStep[2]).to.be.greaterThan(turnsAtStep[1] as number);
  });
});
