/**
 * Sends one message to a running clinic-sms exactly as Twilio would (signed), and prints the TwiML.
 *   npm run try -- --from +13125550134 --body HELP [--to +13125550100] [--url http://localhost:3000]
 *                  [--media https://example.test/x.jpg] [--sid SM...] [--token TOKEN]
 * The token is --token, else TWILIO_AUTH_TOKEN, else the local development token `npm start` uses.
 * The signed URL is PUBLIC_BASE_URL + path when set (as the server rebuilds it), else --url + path.
 *
 * The staff API (README, "For front-desk tools"), with --key or the demo key:
 *   npm run try -- --list [--clinic downtown]
 *   npm run try -- --reply "We will call you today" --conversation cv_... [--idempotency-key K]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { DEMO_KEY } from '../src/auth/api-keys-file.js';
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
      // staff API
      list: { type: 'boolean', default: false },
      reply: { type: 'string' },
      conversation: { type: 'string' },
      clinic: { type: 'string', default: 'downtown' },
      key: { type: 'string' },
      'idempotency-key': { type: 'string' },
    },
  });
  if (values.list || values.reply !== undefined) {
    return staffApi(values);
  }
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

/** Lists open conversations or sends a staff reply through a running server's staff API. */
async function staffApi(values: { url: string; list: boolean; reply?: string; conversation?: string; clinic: string; key?: string; 'idempotency-key'?: string }): Promise<number> {
  const base = `${values.url.replace(/\/+$/, '')}/v1/clinics/${encodeURIComponent(values.clinic)}/conversations`;
  const headers: Record<string, string> = { Authorization: `Bearer ${values.key ?? process.env.CLINIC_SMS_API_KEY ?? DEMO_KEY}` };
  let res: Response;
  if (values.reply !== undefined) {
    if (values.conversation === undefined) {
      process.stderr.write('try: --reply needs --conversation cv_... (see --list)\n');
      return 2;
    }
    headers['Content-Type'] = 'application/json';
    headers['Idempotency-Key'] = values['idempotency-key'] ?? randomBytes(16).toString('hex');
    res = await fetch(`${base}/${encodeURIComponent(values.conversation)}/replies`, { method: 'POST', headers, body: JSON.stringify({ text: values.reply }) });
  } else {
    res = await fetch(`${base}?status=open`, { headers });
  }
  process.stdout.write(`${res.status} ${res.headers.get('content-type') ?? ''}\n${JSON.stringify(await res.json(), null, 2)}\n`);
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
