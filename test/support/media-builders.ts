import { randomBytes } from 'node:crypto';
import { EPOCH, type MediaRecord } from '../../src/media/media-store.js';

/** A Twilio-shaped SID: the prefix and 32 hex digits. */
export const sidOf = (prefix: 'AC' | 'MM' | 'ME' | 'SK'): string => `${prefix}${randomBytes(16).toString('hex')}`;

export function aMediaRecord(overrides: Partial<MediaRecord> & { clinicId: string }): MediaRecord {
  const messageSid = overrides.messageSid ?? sidOf('MM');
  const index = overrides.index ?? 0;
  return {
    id: `${messageSid}-${index}`,
    messageSid,
    index,
    url: `https://api.twilio.com/2010-04-01/Accounts/${sidOf('AC')}/Messages/${messageSid}/Media/${sidOf('ME')}`,
    declaredType: 'image/jpeg',
    receivedAt: new Date('2026-06-01T12:00:00Z'),
    createdAt: new Date('2026-06-01T12:00:01Z'),
    state: 'pending',
    work: 'fetch',
    attempts: 0,
    nextAttemptAt: new Date('2026-06-01T12:00:01Z'),
    lockedUntil: EPOCH,
    ...overrides,
  };
}

/** A small real PNG (1x1). */
export const PNG_BYTES = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082', 'hex');

/** A minimal PDF. */
export const PDF_BYTES = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

/** The start of a Windows executable (MZ header, PE signature). */
export function exeBytes(): Buffer {
  const b = Buffer.alloc(512);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}
