import { expect } from 'chai';
import { createLogger, lazyChild } from '../../src/logger.js';
import { createLogCapture } from '../support/log-capture.js';

describe('lazyChild (a message\'s logger)', () => {
  it('when no line reaches the configured level, then the bindings are never computed', () => {
    const capture = createLogCapture();
    let computed = 0;
    const log = lazyChild(createLogger('warn', capture), () => {
      computed += 1;
      return { sid: 'SM1' };
    });
    log.info({ step: 1 }, 'below the level');
    expect(computed).to.equal(0);
    expect(capture.lines).to.have.length(0);
  });

  it('when lines are written, then each carries the bindings, computed once', () => {
    const capture = createLogCapture();
    let computed = 0;
    const log = lazyChild(createLogger('info', capture), () => {
      computed += 1;
      return { requestId: 'r-1', sid: 'SM1' };
    });
    log.info({ step: 1 }, 'one');
    log.warn({ step: 2 }, 'two');
    log.error({ step: 3 }, 'three');
    expect(computed).to.equal(1);
    expect(capture.records().map((r) => [r.requestId, r.sid, r.step, r.msg, r.level])).to.deep.equal([
      ['r-1', 'SM1', 1, 'one', 30],
      ['r-1', 'SM1', 2, 'two', 40],
      ['r-1', 'SM1', 3, 'three', 50],
    ]);
  });

  it('when a field that may hold PHI is logged through it, then redaction still applies', () => {
    const capture = createLogCapture();
    lazyChild(createLogger('info', capture), () => ({ sid: 'SM1' })).info({ from: '+13125550134', body: 'my test results' }, 'x');
    expect(capture.text()).to.not.contain('+1312').and.not.contain('results');
  });
});
