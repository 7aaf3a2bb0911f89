/**
 * Sends one message to a running clinic-sms exactly as Twilio would (signed), and prints the TwiML.
 *   npm run try -- --from +13125550134 --body HELP [--to +13125550100] [--url http://localhost:3000]
 *                  [--media https://example.test/x.jpg] [--sid SM...] [--token TOKEN]
 * The token is --token, else TWILIO_AUTH_TOKEN, else the local development token `npm start` uses.
 * The signed URL is PUBLIC_BASE_URL + path when set (as the server rebuilds it), else --url + path.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { DEV_AUTH_TOKEN } from '../src/config/load-config.js';

const PATH = '/v1/clinic/webhooks/twilio/sms';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string', default: '+13125550134' },
      to: { type: 'string', default: '+13125550100' },
      body: { type: 'string', default: 'HELP' },
      url: { type: 'string', default: `http://localhost:${process.env.PORT ?? '3000'}` },
      media: { type: 'string', multiple: true, default: [] },
      sid: { type: 'string' },
      token: { type: 'string' },
    },
  });
  const sid = values.sid ?? `${values.media.length > 0 ? 'MM' : 'SM'}${randomBytes(16).toString('hex')}`;
  const params: Record<string, string> = {
    MessageSid: sid,
    SmsMessageSid: sid,
    AccountSid: `AC${randomBytes(16).toString('hex')}`,
    From: values.from,
    To: values.to,
    Body: values.body,
    NumMedia: String(values.media.length),
    NumSegments: '1',
    ApiVersion: '2010-04-01',
  };
  values.media.forEach((url, i) => {
    params[`MediaUrl${i}`] = url;
    params[`MediaContentType${i}`] = 'image/jpeg';
  });
  const token = values.token ?? process.env.TWILIO_AUTH_TOKEN ?? DEV_AUTH_TOKEN;
  const base = (process.env.PUBLIC_BASE_URL ?? values.url).replace(/\/+$/, '');
  const signature = twilio.getExpectedTwilioSignature(token, `${base}${PATH}`, params);
  const res = await fetch(`${values.url.replace(/\/+$/, '')}${PATH}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  process.stdout.write(`${res.status} ${res.headers.get('content-type') ?? ''}\n${await res.text()}\n`);
  return res.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`try: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
