import { expect } from 'chai';
import { Relay } from '../../../src/jobs/relay.js';

describe('Relay (jobs kit)', () => {
  it('when a batch waits on the database, then `concurrency` records are relayed side by side, each made into jobs once and then cleared', async () => {
    const flagged = Array.from({ length: 20 }, (_, i) => `r${i}`);
    const jobs: string[] = [];
    const cleared: string[] = [];
    let inFlight = 0;
    let most = 0;
    let queued = 0;
    const roundTrip = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
    const relay = new Relay<string>({
      name: 'test',
      pending: async (limit) => flagged.filter((r) => !cleared.includes(r)).slice(0, limit),
      toJobs: async (item) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await roundTrip();
        jobs.push(item);
        return 1;
      },
      clear: async (item) => {
        await roundTrip();
        expect(jobs).to.include(item); // jobs first, clear after
        cleared.push(item);
        inFlight -= 1;
      },
      logger: { warn: () => undefined },
      concurrency: 4,
      onQueued: () => void (queued += 1),
    });

    expect(await relay.runOnce()).to.equal(20);

    expect(most).to.equal(4);
    expect([...jobs].sort()).to.deep.equal([...flagged].sort());
    expect([...cleared].sort()).to.deep.equal([...flagged].sort());
    expect(queued).to.equal(1);
    expect(await relay.runOnce()).to.equal(0);
  });
});
