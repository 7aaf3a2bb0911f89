import { randomBytes } from 'node:crypto';
import twilio from 'twilio';

/** A fresh MessageSid: SM + 32 hex digits, as Twilio makes them. */
export function newMessageSid(prefix: 'SM' | 'MM' = 'SM'): string {
  return `${prefix}${randomBytes(16).toString('hex')}`;
}

export const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;

/** The params Twilio posts for an inbound SMS, with overrides. */
export function inboundParams(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    ToCountry: 'US',
    ToState: 'IL',
    SmsMessageSid: undefined,
    NumMedia: '0',
    ToCity: 'CHICAGO',
    FromZip: '60601',
    SmsSid: undefined,
    FromState: 'IL',
    SmsStatus: 'received',
    FromCity: 'CHICAGO',
    Body: 'HELP',
    FromCountry: 'US',
    To: '+13125550100',
    ToZip: '60602',
    NumSegments: '1',
    MessageSid: newMessageSid(),
    AccountSid: ACCOUNT_SID,
    From: '+13125550134',
    ApiVersion: '2010-04-01',
    ...overrides,
  };
  base.SmsMessageSid ??= base.MessageSid;
  base.SmsSid ??= base.MessageSid;
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Form-encodes params the way Twilio does (application/x-www-form-urlencoded). */
export function formEncode(params: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      search.append(key, v);
    }
  }
  return search.toString();
}

/**
 * X-Twilio-Signature exactly as Twilio computes it: HMAC-SHA1 over the full URL followed
 * by every param name and value sorted by name, base64.
 */
export function sign(authToken: string, url: string, params: Record<string, string | string[]>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
