import { expect } from 'chai';
import { AppError, ERROR_CODES, isAppError, formatFindings } from '../../src/errors.js';

describe('errors', () => {
  it('when an AppError is made for each code, then it carries that code, its status and expose flag', () => {
    for (const [code, { status, expose }] of Object.entries(ERROR_CODES)) {
      const err = new AppError(code as keyof typeof ERROR_CODES, 'x');
      expect(err.code).to.equal(code);
      expect(err.status).to.equal(status);
      expect(err.expose).to.equal(expose);
      expect(isAppError(err)).to.equal(true);
    }
  });

  it('when only 4xx codes are exposed, then no 5xx message can reach a caller', () => {
    for (const { status, expose } of Object.values(ERROR_CODES)) {
      expect(expose).to.equal(status < 500);
    }
  });

  it('when a plain Error has a foreign code, then it is not taken for ours', () => {
    expect(isAppError(Object.assign(new Error('x'), { code: 'UNDEFINED_FACT' }))).to.equal(false);
    expect(isAppError(Object.assign(new Error('x'), { code: 'toString' }))).to.equal(false);
  });

  it('when findings are formatted, then each reads file:line:col: message', () => {
    expect(formatFindings([{ file: 'a.yaml', line: 3, col: 5, message: 'bad' }, { file: 'b.yaml', line: 1, col: 1, message: 'meh', severity: 'warning' }])).to.equal(
      'a.yaml:3:5: bad\nb.yaml:1:1: warning: meh',
    );
  });
});
