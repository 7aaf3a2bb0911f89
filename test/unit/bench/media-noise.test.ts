import { expect } from 'chai';
import { withinNoise, type MediaArm } from '../../../bench/phases/media.js';

const arm = (p99: number, openP99: number, rounds: { closed: number[]; open: number[] }): MediaArm =>
  ({ latencyMs: { p50: 1, p99, max: 50 }, open: { latencyMs: { p50: 1, p99: openP99, max: 50 }, cpuMicrosPerRequest: 1, errors: 0 }, p99Rounds: rounds }) as unknown as MediaArm;

describe('bench media noise test', () => {
  it("when the measured arm's median p99 is inside the spread of the baseline arm's rounds, then it is within noise; above it, it is not", () => {
    const without = arm(8, 3, { closed: [7, 8, 10], open: [2, 3, 4] });
    expect(withinNoise([without, arm(9.5, 5, { closed: [], open: [] })], 'closed')).to.equal('within noise (median 9.5 ms ≤ the baseline\'s highest round, 10 ms)');
    expect(withinNoise([without, arm(9.5, 5, { closed: [], open: [] })], 'open')).to.equal('above noise (median 5 ms > the baseline\'s highest round, 4 ms)');
    expect(withinNoise([arm(8, 3, { closed: [8], open: [3] }), arm(9, 3, { closed: [], open: [] })], 'closed')).to.equal('one round: no spread to judge by');
  });
});
