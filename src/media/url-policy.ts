import { isIP } from 'node:net';

/**
 * Which URLs a media job may fetch. Only Twilio's own media URLs carry the clinic's
 * credentials, and only they are fetched at all: a signed request is still attacker
 * input (a patient can't forge it, but a leaked token or a misrouted test can), and a
 * `MediaUrl0` of `file:`, `javascript:`, an internal address or another host must
 * never make the service reach out.
 */
export interface UrlPolicy {
  /** NODE_ENV=production: only https and Twilio's hosts. */
  production: boolean;
  /** TWILIO_API_BASE_URL (tests point it at a local fake; accepted only outside production). */
  apiBaseUrl: string;
}

export interface TwilioMediaUrl {
  url: URL;
  accountSid: string;
  messageSid: string;
  mediaSid: string;
}

const SID = (prefix: string): string => `(${prefix}[0-9a-fA-F]{32})`;
const MEDIA_PATH = new RegExp(`^/2010-04-01/Accounts/${SID('AC')}/Messages/${SID('MM')}/Media/${SID('ME')}$`);
/** api.twilio.com, api.<region>.twilio.com, api.<edge>.<region>.twilio.com (regional processing). */
const TWILIO_API_HOST = /^api(\.[a-z0-9-]+){0,2}\.twilio\.com$/;
const MAX_URL = 2048;

/** The host of TWILIO_API_BASE_URL when it may serve media (outside production only). */
function testOrigin(policy: UrlPolicy): string | null {
  if (policy.production) {
    return null;
  }
  try {
    const base = new URL(policy.apiBaseUrl);
    return TWILIO_API_HOST.test(base.hostname) && base.protocol === 'https:' ? null : base.origin;
  } catch {
    return null;
  }
}

/**
 * Outside production, an http origin on this machine's loopback (127.0.0.0/8, [::1],
 * localhost) may serve media too: `npm run try -- --media photo.jpg` serves the file there as
 * Twilio would (same path, Basic auth with the clinic's account), so a photo can be tried on
 * `npm start` end to end. Still only Twilio's media path; never in production.
 */
function localOrigin(url: URL, policy: UrlPolicy): boolean {
  if (policy.production || url.protocol !== 'http:') {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Checks a `MediaUrlN` before anything is fetched.
 * @param raw - the URL as the webhook carried it
 * @param policy - production or not, and TWILIO_API_BASE_URL
 * @returns the parsed URL and its SIDs, or why it is refused
 */
export function checkMediaUrl(raw: string, policy: UrlPolicy): { ok: true; media: TwilioMediaUrl } | { ok: false; reason: string } {
  if (raw.length > MAX_URL) {
    return { ok: false, reason: 'URL too long' };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  const fake = testOrigin(policy);
  const isFake = (fake !== null && url.origin === fake) || localOrigin(url, policy);
  if (!isFake) {
    if (url.protocol !== 'https:') {
      return { ok: false, reason: `scheme ${url.protocol} not allowed (https only)` };
    }
    if (!TWILIO_API_HOST.test(url.hostname) || url.port !== '') {
      return { ok: false, reason: 'host is not Twilio\'s API (api.twilio.com or api.<region>.twilio.com)' };
    }
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'credentials in the URL' };
  }
  if (url.search !== '' || url.hash !== '') {
    return { ok: false, reason: 'query or fragment not allowed' };
  }
  const m = MEDIA_PATH.exec(url.pathname);
  if (!m) {
    return { ok: false, reason: 'path is not /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…' };
  }
  return { ok: true, media: { url, accountSid: m[1] as string, messageSid: m[2] as string, mediaSid: m[3] as string } };
}

/**
 * Checks where a redirect from Twilio's API points. Twilio answers a media URL with a
 * redirect to its CDN (a pre-signed URL on twiliocdn.com, or Twilio's bucket on Amazon
 * S3), which is not api.twilio.com, so the first URL's rule cannot apply. Each hop
 * must be https to a host name (never an IP literal) under twilio.com or twiliocdn.com,
 * or Amazon S3 with Twilio's `media.twiliocdn.com` bucket; outside production the
 * TWILIO_API_BASE_URL origin too (the tests' fake). Credentials are never sent on a hop.
 * @param target - the resolved Location
 * @param policy - production or not, and TWILIO_API_BASE_URL
 */
export function checkRedirect(target: URL, policy: UrlPolicy): string | null {
  const fake = testOrigin(policy);
  if (fake !== null && target.origin === fake) {
    return null;
  }
  if (target.protocol !== 'https:') {
    return `redirect to scheme ${target.protocol} refused`;
  }
  if (target.username !== '' || target.password !== '' || target.port !== '') {
    return 'redirect with credentials or a port refused';
  }
  const host = target.hostname.toLowerCase();
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) {
    return 'redirect to an IP address refused';
  }
  const twilio = host === 'twilio.com' || host.endsWith('.twilio.com') || host === 'twiliocdn.com' || host.endsWith('.twiliocdn.com');
  const bucketPath = /^s3[a-z0-9.-]*\.amazonaws\.com$/.test(host) && target.pathname.startsWith('/media.twiliocdn.com/');
  const bucketHost = host === 'media.twiliocdn.com.s3.amazonaws.com';
  if (!twilio && !bucketPath && !bucketHost) {
    return 'redirect to a host outside Twilio\'s CDN refused';
  }
  return null;
}
