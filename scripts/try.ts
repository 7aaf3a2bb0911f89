/**
 * Sends one message to a running clinic-sms exactly as Twilio would (signed), and prints the TwiML.
 * The token is --token, else TWILIO_AUTH_TOKEN, else the local development token `npm start` uses.
 * The signed URL is PUBLIC_BASE_URL + path when set (as the server rebuilds it), else --url + path.
 *
 * The staff API (docs/staff-api.md), with --key or the demo key:
 *   npm run try -- --list [--clinic downtown]
 *   npm run try -- --reply "We will call you today" --conversation cv_... [--idempotency-key K]
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import twilio from 'twilio';
import { DEMO_KEY } from '../src/auth/api-keys-file.js';
import { loadClinicsFile } from '../src/config/clinics-file.js';
import { DEV_AUTH_TOKEN, SETTINGS } from '../src/config/load-config.js';

const PATH = '/v1/clinic/webhooks/twilio/sms';

export const USAGE = [
  'usage: npm run try -- [--from N] [--body TEXT] [--to N] [--url URL] [--media FILE|URL]... [--account AC...] [--sid SID] [--token TOKEN]',
  '  Sends one message to a running clinic-sms, signed as Twilio signs it, and prints the status and TwiML.',
  '  --from    sender (default +13125550142, Ben, a demo patient who gets English replies)',
  '  --body    message text (default HELP)',
  '  --to      clinic number (default +13125550100, the demo clinic downtown)',
  '  --url     the server (default http://HOST:PORT from the same PORT and HOST as the server,',
  '            3000 and 0.0.0.0; 0.0.0.0 or :: means this machine, 127.0.0.1)',
  '  --media   a file (photo.jpg): try serves it on 127.0.0.1 as Twilio serves media (Basic auth with',
  '            the account SID and token) and waits until the server has fetched it; or a URL (repeatable)',
  '  --account the AccountSid to send and sign with (default the clinic\'s accountSid in CLINICS_FILE,',
  '            else TWILIO_ACCOUNT_SID, else a local one)',
  '  --wait    seconds to wait for the server to fetch the files of --media (default 30)',
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
        account: { type: 'string' },
        wait: { type: 'string', default: '30' },
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
  const token = values.token ?? io.env.TWILIO_AUTH_TOKEN ?? DEV_AUTH_TOKEN;
  const accountSid = values.account ?? (await clinicAccount(io.env, values.to)) ?? io.env.TWILIO_ACCOUNT_SID ?? LOCAL_ACCOUNT_SID;
  if (!ACCOUNT_SID.test(accountSid)) {
    io.err('try: --account must be AC followed by 32 hex digits');
    return 2;
  }
  // Files are served here as Twilio serves media; URLs are sent as given.
  let served: MediaServer | null = null;
  const media: { url: string; contentType: string }[] = [];
  for (const item of values.media) {
    if (/^https?:\/\//i.test(item)) {
      media.push({ url: item, contentType: 'image/jpeg' });
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(resolve(item));
    } catch (err) {
      io.err(`try: cannot read ${item} (${(err as { code?: string }).code ?? 'error'})`);
      await served?.close();
      return 2;
    }
    served ??= await serveMedia(accountSid, token);
    media.push(served.add(sid, basename(item), bytes));
  }
  const params: Record<string, string> = {
    MessageSid: sid,
    SmsMessageSid: sid,
    AccountSid: accountSid,
    From: values.from,
    To: values.to,
    Body: values.body,
    NumMedia: String(values.media.length),
    NumSegments: '1',
    ApiVersion: '2010-04-01',
  };
  media.forEach((m, i) => {
    params[`MediaUrl${i}`] = m.url;
    params[`MediaContentType${i}`] = m.contentType;
  });
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
    await served?.close();
    return 1;
  }
  io.out(`${res.status} ${res.headers.get('content-type') ?? ''}\n${await res.text()}`);
  if (!served) {
    return res.ok ? 0 : 1;
  }
  // The server fetches media in the background: wait for it, as Twilio's media stay up.
  const fetched = res.ok && (await served.done(Number(values.wait) * 1000));
  for (const line of served.report()) {
    io.out(line);
  }
  await served.close();
  if (res.ok && !fetched) {
    io.err(`try: the server did not fetch every file within ${values.wait} s (its media jobs run with BACKGROUND_JOBS=on; outside production it fetches from 127.0.0.1)`);
  }
  return res.ok && fetched ? 0 : 1;
}

const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;
/** The AccountSid try uses when neither the clinic nor the environment names one. */
const LOCAL_ACCOUNT_SID = `AC${'0'.repeat(32)}`;

/** The accountSid of the clinic that owns number `to` in CLINICS_FILE, if it names one. */
async function clinicAccount(env: Record<string, string | undefined>, to: string): Promise<string | undefined> {
  try {
    const clinics = await loadClinicsFile(env.CLINICS_FILE || 'config/clinics.yaml');
    return clinics.clinics.find((c) => c.phoneNumbers.includes(to))?.accountSid;
  } catch {
    return undefined;
  }
}

const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.vcf': 'text/vcard',
  '.mp4': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.mp3': 'audio/mpeg',
};

interface MediaServer {
  /** Serves `bytes` at a Twilio media URL of message `messageSid`; the URL and declared type. */
  add(messageSid: string, name: string, bytes: Buffer): { url: string; contentType: string };
  /** Resolves true once every file was fetched with the right credentials, false after `ms`. */
  done(ms: number): Promise<boolean>;
  report(): string[];
  close(): Promise<void>;
}

/**
 * A stand-in for Twilio's media URLs on 127.0.0.1 (any free port): the same path
 * (/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…) and the same Basic auth (account SID and
 * auth token), so the server fetches, checks and keeps the file exactly as from Twilio.
 */
async function serveMedia(accountSid: string, token: string): Promise<MediaServer> {
  const files = new Map<string, { name: string; bytes: Buffer; contentType: string; fetched: number; refused: number }>();
  const expected = `Basic ${Buffer.from(`${accountSid}:${token}`).toString('base64')}`;
  let wake: () => void = () => undefined;
  const server: Server = createServer((req, res) => {
    const file = files.get(req.url ?? '');
    if (!file || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== expected) {
      file.refused += 1;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="Twilio API"' }).end();
      return;
    }
    file.fetched += 1;
    res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': file.bytes.length }).end(file.bytes);
    wake();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const all = (): boolean => [...files.values()].every((f) => f.fetched > 0);
  return {
    add(messageSid, name, bytes) {
      const path = `/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}/Media/ME${randomBytes(16).toString('hex')}`;
      const contentType = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
      files.set(path, { name, bytes, contentType, fetched: 0, refused: 0 });
      return { url: `${origin}${path}`, contentType };
    },
    done(ms) {
      return new Promise((ok) => {
        const timer = setTimeout(() => ok(all()), ms);
        wake = () => {
          if (all()) {
            clearTimeout(timer);
            ok(true);
          }
        };
        wake();
      });
    },
    report: () =>
      [...files.values()].map((f) =>
        f.fetched > 0
          ? `media ${f.name}: fetched by the server (${f.contentType}, ${f.bytes.length} bytes)`
          : `media ${f.name}: not fetched${f.refused > 0 ? ` (asked ${f.refused} time(s) with other credentials than ${accountSid} and the token try signs with)` : ''}`,
      ),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
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
