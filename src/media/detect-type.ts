import { fileTypeFromBuffer } from 'file-type';

/**
 * The types kept and shown to staff: what phones send as MMS (photos, PDFs, contact
 * cards, voice notes, short videos). Everything else is kept as refused, with its reason.
 */
export const ALLOWED_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/heic',
  'image/heic-sequence',
  'image/heif',
  'image/heif-sequence',
  'application/pdf',
  'text/plain',
  'text/vcard',
  'audio/mpeg',
  'audio/mp4',
  'audio/x-m4a',
  'audio/aac',
  'audio/amr',
  'audio/ogg',
  'audio/ogg; codecs=opus',
  'audio/wav',
  'audio/webm',
  'video/mp4',
  'video/quicktime',
  'video/3gpp',
  'video/3gpp2',
  'video/webm',
  'video/x-m4v',
]);

/** True for image types (served `inline`; everything else is an attachment). */
export const isImage = (contentType: string): boolean => contentType.startsWith('image/');

/**
 * UTF-8 text without control characters other than tab, CR, LF, form feed: what file-type
 * cannot name (it reads magic numbers, and text has none).
 */
function looksLikeText(bytes: Buffer): boolean {
  if (bytes.length === 0) {
    return false;
  }
  for (const b of bytes) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) {
      return false;
    }
    if (b === 0x7f) {
      return false;
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The real type of the bytes: file-type's magic numbers first, then plain text (a vCard
 * when it begins so); null when nothing matches.
 * @param bytes - the whole file (at most the size limit)
 */
export async function detectType(bytes: Buffer): Promise<string | null> {
  const found = await fileTypeFromBuffer(bytes);
  if (found) {
    return found.mime;
  }
  if (looksLikeText(bytes)) {
    return /^\uFEFF?BEGIN:VCARD\r?\n/i.test(bytes.subarray(0, 64).toString('utf8')) ? 'text/vcard' : 'text/plain';
  }
  return null;
}
