/**
 * How many SMS segments a text takes, the way carriers count them: GSM-7 (3GPP TS 23.038
 * default alphabet) when every character is in it, else UCS-2. One segment holds 160
 * GSM-7 / 70 UCS-2 characters; a multi-part message loses room to its header: 153 / 67
 * a part. Extension characters (€ [ ] { } \ ^ ~ | and form feed) take two GSM-7 places.
 * See https://www.twilio.com/docs/glossary/what-sms-character-limit
 */

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';

const BASIC: ReadonlySet<string> = new Set(GSM7_BASIC);
const EXTENSION: ReadonlySet<string> = new Set(GSM7_EXTENSION);

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SegmentCount {
  encoding: SmsEncoding;
  /** Characters as the encoding counts them (GSM-7 septets, or UCS-2 code units). */
  units: number;
  segments: number;
  /** The characters that forced UCS-2 (empty for GSM-7), first appearance order. */
  nonGsm: string[];
  /** What one segment holds in this encoding (160 or 70). */
  singleLimit: number;
  /** What each part of a multi-part message holds (153 or 67). */
  partLimit: number;
}

/**
 * Counts the segments of `text`.
 * @param text - the reply exactly as it will be sent
 */
export function countSegments(text: string): SegmentCount {
  const nonGsm: string[] = [];
  let septets = 0;
  for (const ch of text) {
    if (BASIC.has(ch)) {
      septets += 1;
    } else if (EXTENSION.has(ch)) {
      septets += 2;
    } else if (!nonGsm.includes(ch)) {
      nonGsm.push(ch);
    }
  }
  if (nonGsm.length === 0) {
    return { encoding: 'GSM-7', units: septets, segments: segmentsFor(septets, 160, 153), nonGsm, singleLimit: 160, partLimit: 153 };
  }
  // UCS-2 counts UTF-16 code units: an emoji takes two.
  const units = text.length;
  return { encoding: 'UCS-2', units, segments: segmentsFor(units, 70, 67), nonGsm, singleLimit: 70, partLimit: 67 };
}

function segmentsFor(units: number, single: number, part: number): number {
  if (units === 0) {
    return 0;
  }
  return units <= single ? 1 : Math.ceil(units / part);
}

/** "UCS-2 because of "í", "¡"" style explanation of why a text is UCS-2 ("" for GSM-7). */
export function describeNonGsm(count: SegmentCount): string {
  if (count.encoding === 'GSM-7') {
    return '';
  }
  const shown = count.nonGsm.slice(0, 5).map((c) => JSON.stringify(c));
  return `UCS-2 because of ${shown.join(', ')}${count.nonGsm.length > 5 ? ', ...' : ''}`;
}
