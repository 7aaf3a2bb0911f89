import { expect } from 'chai';
import type { LoadResult } from '../../../bench/lib/load.js';
import { summarizePaced } from '../../../bench/phases/compare.js';

const run = (rps: number, p50: number, p99: number, max: number, errors = 0, timeouts = 0, non2xx = 0): LoadResult => ({
  rps,
  requests: rps * 8,
  durationS: 8,
  latencyMs: { p50, p90: p50, p99, max, mean: p50 },
  errors,
  timeouts,
  non2xx,
  signedDuringRun: 0,
});

describe('bench paced rounds', () => {
  it('when one round of three has a slow tail, then the row shows the median p99 and every round, and keeps the largest max and all errors', () => {
    const summary = summarizePaced(3600, [run(3600, 0.3, 2.1, 9), run(3598, 0.31, 20.4, 38, 1, 1, 0), run(3601, 0.29, 1.9, 7, 0, 0, 2)]);
    expect(summary).to.deep.equal({
      rate: 3600,
      rps: 3600,
      latencyMs: { p50: 0.3, p99: 2.1, max: 38 },
      p99ByRound: [2.1, 20.4, 1.9],
      errors: 2,
      non2xx: 2,
    });
  });
});
