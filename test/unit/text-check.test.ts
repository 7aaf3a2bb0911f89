import { expect } from 'chai';
import { findTextProblem, requireCleanText } from '../../src/text-check.js';

describe('text check (staff-written text fields)', function () {
  it('when text holds letters of any script, emoji, tabs and newlines (LF or CRLF), then it passes unchanged', function () {
    for (const text of ['Your results are in.', 'Línea 1\nLínea 2\r\nTab\there', 'مرحبا بك', 'שלום', '日本語 👍🏽 ok', 'a\u200fb', '\u{1F600}']) {
      expect(findTextProblem(text), JSON.stringify(text)).to.equal(null);
      expect(() => requireCleanText('text', text)).not.to.throw();
    }
  });

  it('when text holds a control character, then the problem names it and where it is', function () {
    for (const [text, codePoint, index] of [
      ['a\u0000b', 0x00, 1],
      ['\u001b[31mred', 0x1b, 0],
      ['ok\rthen', 0x0d, 2],
      ['x\u007f', 0x7f, 1],
      ['x\u0085y', 0x85, 1],
    ] as const) {
      expect(findTextProblem(text), JSON.stringify(text)).to.deep.equal({ kind: 'control character', codePoint, index });
    }
    expect(() => requireCleanText('text', 'a\u001bb')).to.throw('text contains a control character (U+001B) at position 1').with.property('code', 'BAD_REQUEST');
  });

  it('when text holds a bidirectional override, embedding or isolate, then the problem names it', function () {
    for (const cp of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(findTextProblem(`pay ${String.fromCodePoint(cp)}txt.exe`)).to.deep.equal({ kind: 'bidirectional override', codePoint: cp, index: 4 });
    }
    expect(() => requireCleanText('assignee', 'Ana\u202eziaD')).to.throw('assignee contains a bidirectional override (U+202E) at position 3');
  });

  it('when text holds a lone surrogate, then the problem is invalid UTF-16', function () {
    expect(findTextProblem('ab\ud800')).to.deep.equal({ kind: 'invalid UTF-16', codePoint: 0xd800, index: 2 });
    expect(findTextProblem('\udc00x')).to.deep.equal({ kind: 'invalid UTF-16', codePoint: 0xdc00, index: 0 });
    expect(() => requireCleanText('text', 'x\udfffy')).to.throw('text contains invalid UTF-16 (a lone surrogate U+DFFF) at position 1');
  });
});
