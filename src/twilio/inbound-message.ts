import { AppError } from '../errors.js';
import type { InboundMessage, MediaItem } from '../domain.js';
import type { FormParams } from './form-params.js';

const SID = /^(SM|MM)[0-9a-f]{32}$/;
const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;
const SERVICE_SID = /^MG[0-9a-f]{32}$/;
const MAX_MEDIA = 10;
const KNOWN = new Set(['MessageSid', 'SmsMessageSid', 'SmsSid', 'AccountSid', 'MessagingServiceSid', 'From', 'To', 'Body', 'NumMedia', 'NumSegments', 'OptOutType']);
const MEDIA_KEY = /^Media(Url|ContentType)(\d+)$/;
/** Twilio sends SMS bodies up to 1600 characters; anything far past that is not Twilio. */
const MAX_BODY = 4096;

const bad = (reason: string): AppError => new AppError('BAD_REQUEST', reason);

/**
 * Turns the flat form parameters of Twilio's inbound-message webhook into an InboundMessage,
 * or throws BAD_REQUEST with a short reason that names the field (never its value).
 * @param form - from parseForm
 */
export function toInboundMessage(form: FormParams): InboundMessage {
  if (form.repeated.length > 0) {
    throw bad(`repeated parameter ${form.repeated[0] ?? ''}`);
  }
  const one = (key: string): string | undefined => form.values[key]?.[0];
  const required = (key: string): string => {
    const v = one(key);
    if (v === undefined) {
      throw bad(`missing ${key}`);
    }
    return v;
  };
  const messageSid = required('MessageSid');
  if (!SID.test(messageSid)) {
    throw bad('MessageSid is not SM or MM followed by 32 hex digits');
  }
  const from = required('From').trim();
  const to = required('To').trim();
  if (from === '' || from.length > 64) {
    throw bad('From is empty or too long');
  }
  if (to === '' || to.length > 64) {
    throw bad('To is empty or too long');
  }
  const body = required('Body');
  if (body.length > MAX_BODY) {
    throw bad('Body is too long');
  }
  const accountSid = one('AccountSid');
  if (accountSid !== undefined && !ACCOUNT_SID.test(accountSid)) {
    throw bad('AccountSid is not AC followed by 32 hex digits');
  }
  const messagingServiceSid = one('MessagingServiceSid');
  if (messagingServiceSid !== undefined && messagingServiceSid !== '' && !SERVICE_SID.test(messagingServiceSid)) {
    throw bad('MessagingServiceSid is not MG followed by 32 hex digits');
  }
  const media = readMedia(form, one('NumMedia'));
  // Null prototype: a parameter named __proto__ (signed like any other) stays an own key.
  const extra = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(form.values)) {
    if (!KNOWN.has(key) && !(key.startsWith('Media') && MEDIA_KEY.test(key))) {
      extra[key] = one(key) as string;
    }
  }
  const message: InboundMessage = { messageSid, from, to, body, numMedia: media.length, media, extra };
  if (accountSid !== undefined) {
    message.accountSid = accountSid;
  }
  if (messagingServiceSid) {
    message.messagingServiceSid = messagingServiceSid;
  }
  const numSegments = one('NumSegments');
  if (numSegments !== undefined) {
    if (!/^\d{1,3}$/.test(numSegments)) {
      throw bad('NumSegments is not a number');
    }
    message.numSegments = numSegments;
  }
  const optOutType = one('OptOutType');
  if (optOutType !== undefined) {
    message.optOutType = optOutType;
  }
  return message;
}

function readMedia(form: FormParams, rawCount: string | undefined): MediaItem[] {
  const present = new Map<number, { url?: string; type?: string }>();
  for (const key of Object.keys(form.values)) {
    const m = key.startsWith('Media') ? MEDIA_KEY.exec(key) : null;
    if (!m) {
      continue;
    }
    const index = Number(m[2]);
    const slot = present.get(index) ?? {};
    if (m[1] === 'Url') {
      slot.url = form.values[key]?.[0] as string;
    } else {
      slot.type = form.values[key]?.[0] as string;
    }
    present.set(index, slot);
  }
  if (rawCount === undefined || rawCount === '') {
    if (present.size > 0) {
      throw bad('media fields without NumMedia');
    }
    return [];
  }
  if (!/^\d{1,2}$/.test(rawCount) || Number(rawCount) > MAX_MEDIA) {
    throw bad(`NumMedia is not a number from 0 to ${MAX_MEDIA}`);
  }
  const count = Number(rawCount);
  if (present.size !== count) {
    throw bad('NumMedia does not match the media fields');
  }
  const media: MediaItem[] = [];
  for (let i = 0; i < count; i += 1) {
    const slot = present.get(i);
    if (!slot?.url || slot.type === undefined) {
      throw bad(`MediaUrl${i} or MediaContentType${i} missing`);
    }
    if (!/^https?:\/\//.test(slot.url)) {
      throw bad(`MediaUrl${i} is not an http(s) URL`);
    }
    media.push({ url: slot.url, contentType: slot.type });
  }
  return media;
}
