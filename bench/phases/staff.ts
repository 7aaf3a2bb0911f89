/**
 * The front desk's screen under load (issue 25), on the full compiled service and the
 * embedded store, signed in through the development demo sign-in (real sessions):
 *  1. the list page of a clinic holding 10,000 conversations: server time per page load
 *     (sequential GETs over a keep-alive loopback connection), p50/p95 (target p95 ≤ 50 ms);
 *  2. 100 open SSE streams (100 sessions, one stream each, as 100 tabs): a new message from a
 *     new number reaches every stream; p99 from sending the webhook to each stream's first
 *     event after it (target ≤ 2 s);
 *  3. the webhook's latency at a steady rate with those 100 streams open and with none, in
 *     alternated rounds (without, with, without, with, …) so the shared machine's drift hits
 *     both kinds alike; each round's p99 is kept, so the spread between rounds of one kind
 *     shows the noise the ratio is to be read against.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent, request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import { round } from '../lib/load.js';
import { quantile, sendAtRate, summary } from '../lib/open-loop.js';
import { WEBHOOK_PATH, type SignedRequest } from '../lib/request-mix.js';
import { startServer, type ServerChild } from '../lib/servers.js';
import { BENCH_ACCOUNT_SID, BENCH_BASE_URL, BENCH_TOKEN, serviceEnv, type World } from '../lib/world.js';

export interface StaffBenchOptions {
  conversations: number;
  pageLoads: number;
  streams: number;
  /** Messages sent one at a time while the streams are open. */
  liveMessages: number;
  /** The webhook's steady rate and duration for the with/without-streams comparison. */
  ratePerS: number;
  durationS: number;
  /** Rounds of (without streams, with streams), alternated so the shared machine's drift hits both alike. */
  rounds: number;
}

export interface StaffBenchResult {
  conversations: number;
  seedS: number;
  listPageMs: { p50: number; p95: number; max: number };
  streams: number;
  /** Stream deliveries seen of streams × liveMessages. */
  delivered: number;
  expected: number;
  liveMs: { p50: number; p99: number; max: number };
  webhookMs: { withoutStreams: { p50: number; p99: number; max: number }; withStreams: { p50: number; p99: number; max: number } };
  /** Webhook p99 with the streams open over without (within noise: about 1), over every round's latencies. */
  webhookP99Ratio: number;
  /** Each round's p99 without and with the streams (the noise between rounds of one kind is the yardstick). */
  webhookRounds: { withoutP99: number[]; withP99: number[] };
}

const STAFF_EMAIL = 'bench-desk@bench.example';

/** An unknown sender's message to a clinic number, signed as Twilio signs it. */
function unknownNumberMessage(to: string, n: number, tag: string): SignedRequest {
  const messageSid = `SM${randomBytes(16).toString('hex')}`;
  const params: Record<string, string> = {
    MessageSid: messageSid,
    SmsMessageSid: messageSid,
    AccountSid: BENCH_ACCOUNT_SID,
    From: `+1415${String(1_000_000 + n).padStart(7, '0')}`,
    To: to,
    Body: `Hello, this is ${tag} ${n}: can someone call me back?`,
    NumMedia: '0',
    ApiVersion: '2010-04-01',
  };
  return { kind: 'unknown-number', messageSid, body: new URLSearchParams(params).toString(), signature: twilio.getExpectedTwilioSignature(BENCH_TOKEN, `${BENCH_BASE_URL}${WEBHOOK_PATH}`, params) };
}

function http(port: number, agent: Agent, options: { method: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent, method: options.method, path: options.path, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Signs in through the demo sign-in (a fresh session) and returns its Cookie header. */
async function signIn(port: number, agent: Agent): Promise<string> {
  const res = await http(port, agent, {
    method: 'POST',
    path: '/staff/auth/demo-sign-in',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ email: STAFF_EMAIL }).toString(),
  });
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('clinic-sms-staff='));
  if (res.status !== 303 || !cookie) {
    throw new Error(`demo sign-in answered ${res.status}`);
  }
  return cookie.split(';')[0] as string;
}

/** One open SSE stream: the times its events arrived. */
interface Stream {
  arrivals: number[];
  close(): void;
}

function openStream(port: number, path: string, cookie: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const arrivals: number[] = [];
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { cookie, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        // Any event line (not the comment that opens the stream) counts as an arrival.
        if (/^event: /m.test(chunk)) {
          arrivals.push(performance.now());
        }
      });
      res.on('error', () => undefined);
      resolve({ arrivals, close: () => req.destroy() });
    });
    req.on('error', (err) => reject(err));
    req.end();
  });
}

/** A child process that holds one stream per cookie, reading and counting events; stop() says how many came. */
const HOLDER = `
const http = require('node:http');
const { port, path, cookies } = JSON.parse(process.env.HOLD);
let events = 0, open = 0;
const reqs = cookies.map((cookie) => {
  const req = http.request({ host: '127.0.0.1', port, path, agent: false, headers: { cookie, accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) { process.stderr.write('stream ' + res.statusCode + '\\n'); process.exit(1); }
    res.on('data', (c) => { events += c.toString('utf8').split('\\nevent: ').length - 1; });
    if (++open === cookies.length) process.stdout.write('ready\\n');
  });
  req.on('error', () => undefined);
  req.end();
  return req;
});
process.stdin.on('data', () => { reqs.forEach((r) => r.destroy()); process.stdout.write(events + '\\n'); process.exit(0); });
`;

async function holdStreams(port: number, path: string, cookies: string[]): Promise<{ stop(): Promise<number> }> {
  const child = spawn(process.execPath, ['-e', HOLDER], { env: { HOLD: JSON.stringify({ port, path, cookies }) }, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => (out += c));
  await new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (out.includes('ready\n')) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(check);
      reject(new Error(`stream holder exited (${code})`));
    });
  });
  return {
    stop: async () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.write('stop\n');
      await exited;
      return Number(out.replace('ready\n', '').trim());
    },
  };
}

/**
 * Sends `count` messages one at a time and times each stream's first event after each one.
 * @param next - the next message to send
 */
async function liveDeliveries(port: number, streams: Stream[], next: () => SignedRequest[], count: number): Promise<{ latencies: number[]; delivered: number }> {
  const latencies: number[] = [];
  let delivered = 0;
  for (let m = 0; m < count; m++) {
    const before = streams.map((s) => s.arrivals.length);
    const sentAt = performance.now();
    await sendAtRate(port, next(), 1);
    const deadline = sentAt + 5000;
    while (performance.now() < deadline && streams.some((s, i) => s.arrivals.length === before[i])) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    streams.forEach((s, i) => {
      const at = s.arrivals[before[i] as number];
      if (at !== undefined) {
        delivered += 1;
        latencies.push(at - sentAt);
      }
    });
    // The next message once every stream has had this one's events.
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return { latencies, delivered };
}

/**
 * @param root - the repository (the service runs from its dist/)
 * @param world - the clinics (the first one gets the conversations)
 */
export async function runStaff(root: string, world: World, options: StaffBenchOptions, log: (line: string) => void): Promise<StaffBenchResult> {
  const staffFile = join(world.dir, 'staff-bench.yaml');
  await writeFile(staffFile, `staff:\n  - email: ${STAFF_EMAIL}\n    name: Bench Desk\n    clinics: [${world.clinics.map((c) => c.id).join(', ')}]\n`);
  const clinic = world.clinics[0] as { id: string; number: string };
  // No idle sign-out during the run. The per-address connection cap stays at its default (100): the signed-in streams give their slot back.
  const server: ServerChild = await startServer(root, 'full-service', serviceEnv(world, { STAFF_FILE: staffFile, STAFF_SESSION_IDLE_MINUTES: '720', MEMORY_STORE_MAX_MESSAGES: String(options.conversations * 3) }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // 1. 10,000 conversations: one message each from a new number (Unassigned, as new patients land).
    const t0 = performance.now();
    const seed = await sendAtRate(server.port, Array.from({ length: options.conversations }, (_, i) => unknownNumberMessage(clinic.number, i, 'seed')), 2000);
    const seedS = round((performance.now() - t0) / 1000, 1);
    if (seed.answered !== options.conversations) {
      throw new Error(`seeding: ${seed.answered} of ${options.conversations} messages answered 200`);
    }
    log(`  ${options.conversations} conversations made in ${seedS} s`);
    const cookie = await signIn(server.port, agent);
    const listPath = `/staff/clinics/${encodeURIComponent(clinic.id)}?view=all`;
    const first = await http(server.port, agent, { method: 'GET', path: listPath, headers: { cookie } });
    if (first.status !== 200) {
      throw new Error(`list page answered ${first.status}`);
    }
    const pageTimes: number[] = [];
    for (let i = 0; i < options.pageLoads; i++) {
      const s = performance.now();
      const res = await http(server.port, agent, { method: 'GET', path: i % 2 === 0 ? listPath : `/staff/clinics/${encodeURIComponent(clinic.id)}`, headers: { cookie } });
      pageTimes.push(performance.now() - s);
      if (res.status !== 200) {
        throw new Error(`list page answered ${res.status}`);
      }
    }
    const sorted = [...pageTimes].sort((a, b) => a - b);
    const listPageMs = { p50: round(quantile(sorted, 0.5)), p95: round(quantile(sorted, 0.95)), max: round(sorted.at(-1) ?? NaN) };
    log(`  list page (${options.pageLoads} loads): p50 ${listPageMs.p50} ms, p95 ${listPageMs.p95} ms`);

    let n = options.conversations;
    const batch = (count: number, tag: string): SignedRequest[] => Array.from({ length: count }, () => unknownNumberMessage(clinic.number, n++, tag));
    await sendAtRate(server.port, batch(options.ratePerS, 'warm'), options.ratePerS);
    // One session a tab, made once; the streams are opened again for each round.
    const cookies: string[] = [];
    for (let i = 0; i < options.streams; i++) {
      cookies.push(await signIn(server.port, agent));
    }
    const openAll = async (): Promise<Stream[]> => {
      const open: Stream[] = [];
      for (const cookie of cookies) {
        open.push(await openStream(server.port, `/staff/clinics/${encodeURIComponent(clinic.id)}/events`, cookie));
      }
      // Past the hub's overlap window: the first look's replay of earlier changes is over.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      return open;
    };
    const without: number[] = [];
    const withStreams: number[] = [];
    const webhookRounds: StaffBenchResult['webhookRounds'] = { withoutP99: [], withP99: [] };
    let latencies: number[] = [];
    let delivered = 0;
    for (let round = 0; round < options.rounds; round++) {
      // 3a. The webhook without streams.
      const a = await sendAtRate(server.port, batch(options.ratePerS * options.durationS, 'load'), options.ratePerS);
      without.push(...a.latencies);
      webhookRounds.withoutP99.push(summary(a.latencies).p99);
      if (round === 0) {
        // 2. A new message reaches every stream: messages one at a time, the streams in this process (arrival times).
        const streams = await openAll();
        ({ latencies, delivered } = await liveDeliveries(server.port, streams, () => batch(1, 'live'), options.liveMessages));
        const liveMs = summary(latencies);
        log(`  ${options.streams} streams, ${options.liveMessages} messages: ${delivered}/${options.streams * options.liveMessages} delivered, p50 ${liveMs.p50} ms, p99 ${liveMs.p99} ms`);
        streams.forEach((s) => s.close());
      }
      // 3b. The webhook with the streams open, held by another process: reading 100 streams'
      // events in the process that times the webhook would put the reader's work in its latencies.
      const holder = await holdStreams(server.port, `/staff/clinics/${encodeURIComponent(clinic.id)}/events`, cookies);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const b = await sendAtRate(server.port, batch(options.ratePerS * options.durationS, 'load'), options.ratePerS);
      withStreams.push(...b.latencies);
      webhookRounds.withP99.push(summary(b.latencies).p99);
      const events = await holder.stop();
      if (events === 0) {
        throw new Error('the streams held for the webhook comparison got no events');
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      log(`  round ${round + 1}: webhook at ${options.ratePerS}/s p99 ${webhookRounds.withoutP99.at(-1)} ms without streams, ${webhookRounds.withP99.at(-1)} ms with ${options.streams}`);
    }
    const liveMs = summary(latencies);
    const webhookMs = { withoutStreams: summary(without), withStreams: summary(withStreams) };
    log(`  webhook at ${options.ratePerS}/s over ${options.rounds} rounds: p99 ${webhookMs.withoutStreams.p99} ms without streams, ${webhookMs.withStreams.p99} ms with ${options.streams}`);
    return {
      conversations: options.conversations,
      seedS,
      listPageMs,
      streams: options.streams,
      delivered,
      expected: options.streams * options.liveMessages,
      liveMs,
      webhookMs,
      webhookP99Ratio: round(webhookMs.withStreams.p99 / webhookMs.withoutStreams.p99),
      webhookRounds,
    };
  } finally {
    agent.destroy();
    await server.stop();
  }
}
