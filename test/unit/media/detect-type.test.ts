import { expect } from 'chai';
import { ALLOWED_TYPES, detectType } from '../../../src/media/detect-type.js';
import { exeBytes, PDF_BYTES, PNG_BYTES } from '../../support/media-builders.js';

describe('media type detection', () => {
  it('when bytes are a PNG, a PDF, a vCard or plain text, then the real type is found and allowed', async () => {
    expect(await detectType(PNG_BYTES)).to.equal('image/png');
    expect(await detectType(PDF_BYTES)).to.equal('application/pdf');
    expect(await detectType(Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nEND:VCARD\r\n'))).to.equal('text/vcard');
    expect(await detectType(Buffer.from('running late, be there at 3 — ñ\n'))).to.equal('text/plain');
    for (const t of ['image/png', 'application/pdf', 'text/vcard', 'text/plain']) {
      expect(ALLOWED_TYPES.has(t), t).to.equal(true);
    }
  });

  it('when bytes are an executable, unknown binary or empty, then the type is not allowed or unknown', async () => {
    const exe = await detectType(exeBytes());
    expect(exe).to.equal('application/x-msdownload');
    expect(ALLOWED_TYPES.has(exe ?? '')).to.equal(false);
    expect(await detectType(Buffer.from([0, 1, 2, 3, 0xfe]))).to.equal(null);
    expect(await detectType(Buffer.alloc(0))).to.equal(null);
  });
});
