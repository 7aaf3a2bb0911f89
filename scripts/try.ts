/**
 * Sends one message to a running clinic-sms exactly as Twilio would (signed), and prints the TwiML.
 * The token is --token, else TWILIO_AUTH_TOKEN, else the local development token `npm start` uses.
 * The signed URL is PUBLIC_BASE_URL + path when set (as the server rebuilds it), else --url + path.
 *
 * The staff API (README, "For front-desk tools"), with --key or the demo key:
 *   npm run try -- --list [--clinic downtown]
 *   npm run try -- --reply "We will call you today" --conversation cv_... [--idempotency-key K]
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { DEMO_KEY } from '../src/auth/api-keys-file.js';
import { DEV_AUTH_TOKEN, SETTINGS } from '../src/config/load-config.js';

const PATH = '/v1/clinic/webhooks/twilio/sms';

export const USAGE = [
  'usage: npm run try -- [--from N] [--body TEXT] [--to N] [--url URL] [--media URL]... [--sid SID] [--token TOKEN]',
  '  Sends one message to a running clinic-sms, signed as Twilio signs it, and prints the status and TwiML.',
  '  --from    sender (default +13125550142, Ben, a demo patient who gets English replies)',
  '  --body    message text (default HELP)',
  '  --to      clinic number (default +13125550100, the demo clinic downtown)',
  '  --url     the server (default http://HOST:PORT from the same PORT and HOST as the server,',
  '            3000 and 0.0.0.0; 0.0.0.0 or :: means this machine, 127.0.0.1)',
  '  --media   a photo URL (repeatable)',
  '  --token   auth token (default TWILIO_AUTH_TOKEN, else the local development token)',
  '  Staff API: --list (open conversations) or --reply TEXT --conversation cv_... [--idempotency-key K],',
  '            with --clinic ID (default downtown) and --key KEY (default CLINIC_SMS_API_KEY, else the demo key)',
  '  Exit status: 0 on a 2xx answer, 1 otherwise, 2 on a bad option.',
];

/**
 * The server's own address as `npm start` would listen with this environment: the same
 * PORT and HOST defaults; a wildcard HOST is reached on loopback.
 * @param env - the environment
 */
export function serverUrl(env: Record<string, string | undefined>): string {
  const problems: string[] = [];
  const port = SETTINGS.port.parse(env.PORT, problems);
  const host = SETTINGS.host.parse(env.HOST, problems);
  if (problems.length > 0) {
    throw new Error(problems.join('; '));
  }
  const reachable = host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') && !reachable.startsWith('[') ? `[${reachable}]` : reachable}:${port}`;
}

export interface TryIO {
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
}

/**
 * One `npm run try` invocation.
 * @param argv - the arguments after the script name
 * @param io - environment and output
 * @returns the exit status
 */
export async function runTry(argv: string[], io: TryIO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        from: { type: 'string', default: '+13125550142' },
        to: { type: 'string', default: '+13125550100' },
        body: { type: 'string', default: 'HELP' },
        url: { type: 'string' },
        media: { type: 'string', multiple: true, default: [] },
        sid: { type: 'string' },
        token: { type: 'string' },
        list: { type: 'boolean', default: false },
        reply: { type: 'string' },
        conversation: { type: 'string' },
        clinic: { type: 'string', default: 'downtown' },
        key: { type: 'string' },
        'idempotency-key': { type: 'string' },
      },
    }));
  } catch (err) {
    io.err(`try: ${(err as Error).message}`);
    USAGE.forEach((l) => io.err(l));
    return 2;
  }
  if (values.help) {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const url = (values.url ?? serverUrl(io.env)).replace(/\/+$/, '');
  if (values.list || values.reply !== undefined) {
    return staffApi({ ...values, url }, io);
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
  values.media.forEach((media, i) => {
    params[`MediaUrl${i}`] = media;
    params[`MediaContentType${i}`] = 'image/jpeg';
  });
  const token = values.token ?? io.env.TWILIO_AUTH_TOKEN ?? DEV_AUTH_TOKEN;
  const base = (io.env.PUBLIC_BASE_URL ?? url).replace(/\/+$/, '');
  const signature = twilio.getExpectedTwilioSignature(token, `${base}${PATH}`, params);
  let res: Response;
  try {
    res = await fetch(`${url}${PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature },
      body: new URLSearchParams(params).toString(),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    io.err(`try: cannot reach ${url}${cause ? ` (${cause})` : ''}: is the server running (npm start)? Set --url, or the PORT/HOST it listens on.`);
    return 1;
  }
  io.out(`${res.status} ${res.headers.get('content-type') ?? ''}\n${await res.text()}`);
  return res.ok ? 0 : 1;
}

/** Lists open conversations or sends a staff reply through a running server's staff API. */
async function staffApi(
  values: { url: string; list: boolean; reply?: string; conversation?: string; clinic: string; key?: string; 'idempotency-key'?: string },
  io: TryIO,
): Promise<number> {
  const base = `${values.url}/v1/clinics/${encodeURIComponent(values.clinic)}/conversations`;
  const headers: Record<string, string> = { Authorization: `Bearer ${values.key ?? io.env.CLINIC_SMS_API_KEY ?? DEMO_KEY}` };
  let res: Response;
  if (values.reply !== undefined) {
    if (values.conversation === undefined) {
      io.err('try: --reply needs --conversation cv_... (see --list)');
      return 2;
    }
    headers['Content-Type'] = 'application/json';
    headers['Idempotency-Key'] = values['idempotency-key'] ?? randomBytes(16).toString('hex');
    res = await fetch(`${base}/${encodeURIComponent(values.conversation)}/replies`, { method: 'POST', headers, body: JSON.stringify({ text: values.reply }) });
  } else {
    res = await fetch(`${base}?status=open`, { headers });
  }
  io.out(`${res.status} ${res.headers.get('content-type') ?? ''}\n${JSON.stringify(await res.json(), null, 2)}`);
  return res.ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runTry(process.argv.slice(2), {
    env: process.env,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`try: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
