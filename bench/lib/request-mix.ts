/**
 * The load's requests: signed exactly as Twilio signs them, with a fresh MessageSid each,
 * in a realistic mix (keywords from known patients, free text, unknown numbers, a few
 * media messages, a few deliberate duplicates). Pure: a seeded random source, no I/O.
 */
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';

export const WEBHOOK_PATH = '/v1/clinic/webhooks/twilio/sms';

export interface MixTarget {
  /** The URL Twilio signs: PUBLIC_BASE_URL + WEBHOOK_PATH. */
  url: string;
  authToken: string;
  accountSid: string;
  /** Each clinic's Twilio number (the To). */
  clinicNumbers: readonly string[];
  /** Known senders: the clinic number they write to and their phone. */
  patients: ReadonlyArray<{ to: string; phone: string }>;
  /** Extra keywords the rules define (scale runs); sent now and then by known patients. */
  extraKeywords?: readonly string[];
}

export type MixKind = 'keyword' | 'free-text' | 'unknown-number' | 'media' | 'duplicate' | 'extra-keyword';

export interface SignedRequest {
  kind: MixKind;
  messageSid: string;
  body: string;
  signature: string;
}

/** Shares of the mix (they add up to 1). */
export const MIX_SHARES: Readonly<Record<MixKind, number>> = {
  keyword: 0.55,
  'free-text': 0.22,
  'unknown-number': 0.1,
  media: 0.05,
  duplicate: 0.03,
  'extra-keyword': 0.05,
};

/** Keywords known patients send, with weights; STOP/START stay rare, as in real traffic. */
const KEYWORDS: ReadonlyArray<readonly [string, number]> = [
  ['CONFIRM', 20],
  ['YES', 8],
  ['HELP', 10],
  ['RESCHEDULE', 6],
  ['cancel appt', 4],
  ['Confirmar', 3],
  ['AYUDA', 2],
  ['HOURS', 4],
  ['STOP', 1],
  ['START', 1],
];

const FREE_TEXT = [
  'Running 10 minutes late, sorry!',
  'Can I bring my son to the same appointment?',
  'Is parking available near the clinic?',
  'What time is my appointment again',
  'ok thanks',
  'Do I need to fast before the blood test?',
  'Necesito cambiar mi cita por favor',
  'Who is my doctor tomorrow?',
];

/** A small deterministic PRNG (mulberry32), so two runs send the same mix. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** X-Twilio-Signature as Twilio computes it (base64 HMAC-SHA1 of the URL and the sorted params). */
function twilioSignature(authToken: string, url: string, params: Readonly<Record<string, string>>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}

export function formEncode(params: Readonly<Record<string, string>>): string {
  return new URLSearchParams(params).toString();
}

export interface RequestMix {
  next(): SignedRequest;
  /** How many of each kind were made. */
  readonly counts: Readonly<Record<MixKind, number>>;
}

export interface MixOptions {
  seed?: number;
  /** A duplicate repeats a request made at least this many requests earlier (so the first is done). */
  duplicateLag?: number;
  shares?: Partial<Record<MixKind, number>>;
}

/**
 * Makes the stream of requests. Every request gets a fresh MessageSid except the
 * deliberate duplicates, which resend an earlier request byte for byte (as Twilio does
 * when it retries).
 * @param target - where the requests go and who sends them
 * @param options - seed, duplicate lag, shares
 */
export function createRequestMix(target: MixTarget, options: MixOptions = {}): RequestMix {
  if (target.patients.length === 0 || target.clinicNumbers.length === 0) {
    throw new Error('the mix needs at least one clinic number and one known patient');
  }
  const random = seededRandom(options.seed ?? 7);
  const lag = options.duplicateLag ?? 200;
  const shares = { ...MIX_SHARES, ...options.shares };
  if ((target.extraKeywords ?? []).length === 0) {
    shares.keyword += shares['extra-keyword'];
    shares['extra-keyword'] = 0;
  }
  const kinds = Object.entries(shares) as Array<[MixKind, number]>;
  const total = kinds.reduce((s, [, w]) => s + w, 0);
  const counts: Record<MixKind, number> = { keyword: 0, 'free-text': 0, 'unknown-number': 0, media: 0, duplicate: 0, 'extra-keyword': 0 };
  const keywordTotal = KEYWORDS.reduce((s, [, w]) => s + w, 0);
  const recent: SignedRequest[] = [];
  let made = 0;

  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const pickKind = (): MixKind => {
    let r = random() * total;
    for (const [kind, w] of kinds) {
      r -= w;
      if (r < 0) {
        return kind;
      }
    }
    return 'keyword';
  };
  const pickKeyword = (): string => {
    let r = random() * keywordTotal;
    for (const [word, w] of KEYWORDS) {
      r -= w;
      if (r < 0) {
        return word;
      }
    }
    return 'HELP';
  };
  const fresh = (kind: MixKind): SignedRequest => {
    const sender = pick(target.patients);
    let from = sender.phone;
    let to = sender.to;
    let body: string;
    const media: Record<string, string> = {};
    switch (kind) {
      case 'unknown-number':
        from = `+1773${String(Math.floor(random() * 1e7)).padStart(7, '0')}`;
        to = pick(target.clinicNumbers);
        body = random() < 0.5 ? pickKeyword() : pick(FREE_TEXT);
        break;
      case 'media':
        body = random() < 0.5 ? 'CONFIRM' : 'Here is a photo of my insurance card';
        media.MediaUrl0 = `https://api.twilio.com/2010-04-01/Accounts/${target.accountSid}/Messages/MM${hex(16)}/Media/ME${hex(16)}`;
        media.MediaContentType0 = 'image/jpeg';
        break;
      case 'free-text':
        body = pick(FREE_TEXT);
        break;
      case 'extra-keyword':
        body = pick(target.extraKeywords ?? ['HELP']);
        break;
      default:
        body = pickKeyword();
    }
    const sid = `${Object.keys(media).length > 0 ? 'MM' : 'SM'}${hex(16)}`;
    const params: Record<string, string> = {
      ToCountry: 'US',
      ToState: 'IL',
      SmsMessageSid: sid,
      NumMedia: String(Object.keys(media).length / 2),
      ToCity: 'CHICAGO',
      FromZip: '60601',
      SmsSid: sid,
      FromState: 'IL',
      SmsStatus: 'received',
      FromCity: 'CHICAGO',
      Body: body,
      FromCountry: 'US',
      To: to,
      ToZip: '60602',
      NumSegments: '1',
      MessageSid: sid,
      AccountSid: target.accountSid,
      From: from,
      ApiVersion: '2010-04-01',
      ...media,
    };
    return { kind, messageSid: sid, body: formEncode(params), signature: twilioSignature(target.authToken, target.url, params) };
  };

  return {
    counts,
    next(): SignedRequest {
      let kind = pickKind();
      if (kind === 'duplicate' && made < lag) {
        kind = 'keyword';
      }
      let request: SignedRequest;
      if (kind === 'duplicate') {
        const first = recent[0] as SignedRequest;
        request = { ...first, kind: 'duplicate' };
      } else {
        request = fresh(kind);
        recent.push(request);
        if (recent.length > lag) {
          recent.shift();
        }
      }
      counts[kind] += 1;
      made += 1;
      return request;
    },
  };
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
