/**
 * Issue 17: does media in the mix slow the webhook? The same seeded traffic three times,
 * each turn on a fresh service: without media; with a share of the messages carrying 10
 * `MediaUrlN` each whose origin the URL policy refuses (recorded, nothing fetched); and the
 * same with URLs on a local fake of Twilio's media API (bench/servers/fake-media.ts, a child
 * process of its own: Basic auth, redirect, JPEG) that the background worker really fetches
 * from. The warm-up builds the backlog, so the worker is busy all through the measured run.
 * Each turn is measured closed loop (as fast as the service answers, where any extra CPU
 * shows as queueing), then open loop at MEDIA_OPEN_RATE messages/s, a rate every arm sustains.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import twilio from 'twilio';
import { median, presign, round } from '../lib/load.js';
import { sendAtRate, summary } from '../lib/open-loop.js';
import { formEncode, seededRandom, WEBHOOK_PATH, type RequestMix, type SignedRequest } from '../lib/request-mix.js';
import { runRounds, type RoundsSettings, type VariantResult } from '../lib/rounds.js';
import { startServer, type ServerChild } from '../lib/servers.js';
import { BENCH_ACCOUNT_SID, BENCH_BASE_URL, BENCH_TOKEN, mixFor, serviceEnv, type World } from '../lib/world.js';

const MEDIA_PER_MESSAGE = 10;
/** Messages/s of the open-loop measurement: about a quarter of what either arm answers closed loop. */
export const MEDIA_OPEN_RATE = 500;
const sid = (prefix: string): string => `${prefix}${randomBytes(16).toString('hex')}`;

/**
 * The base mix's requests with their media taken off, and with probability `share`
 * 10 media URLs put on (the MessageSid becomes MM…, as the URLs must name it). A resend
 * of an earlier request stays a byte-for-byte resend.
 */
export function withMedia(base: RequestMix, share: number, mediaBaseUrl: string, seed: number): RequestMix {
  const random = seededRandom(seed);
  const made = new Map<string, SignedRequest>();
  return {
    get counts() {
      return base.counts;
    },
    next(): SignedRequest {
      const request = base.next();
      const earlier = made.get(request.messageSid);
      if (earlier) {
        return { ...earlier, kind: request.kind };
      }
      const params = Object.fromEntries([...new URLSearchParams(request.body)].filter(([k]) => !/^Media(Url|ContentType)\d+$/.test(k)));
      const media = random() < share;
      const messageSid = sid(media ? 'MM' : 'SM');
      Object.assign(params, { MessageSid: messageSid, SmsSid: messageSid, SmsMessageSid: messageSid, NumMedia: String(media ? MEDIA_PER_MESSAGE : 0) });
      for (let n = 0; media && n < MEDIA_PER_MESSAGE; n++) {
        params[`MediaUrl${n}`] = `${mediaBaseUrl}/2010-04-01/Accounts/${params.AccountSid ?? ''}/Messages/${messageSid}/Media/${sid('ME')}`;
        params[`MediaContentType${n}`] = 'image/jpeg';
      }
      const signed: SignedRequest = { kind: media ? 'media' : request.kind, messageSid, body: formEncode(params), signature: twilio.getExpectedTwilioSignature(BENCH_TOKEN, `${BENCH_BASE_URL}${WEBHOOK_PATH}`, params) };
      made.set(request.messageSid, signed);
      if (made.size > 1000) {
        made.delete(made.keys().next().value as string);
      }
      return signed;
    },
  };
}

/** One open-loop run at MEDIA_OPEN_RATE. */
export interface OpenLoopRun {
  latencyMs: { p50: number; p99: number; max: number };
  cpuMicrosPerRequest: number;
  /** Sent and not answered with 200. */
  errors: number;
}

export interface MediaArm extends VariantResult {
  share: number;
  /** The open-loop runs' medians (max: the largest). */
  open: OpenLoopRun;
  /** p99 of each round, closed loop then open loop: the spread of one arm is the machine's noise. */
  p99Rounds: { closed: number[]; open: number[] };
  /** Files the fake served during the arm's turns, warm-ups included (the worker did fetch). */
  mediaFetched: number;
  unauthorized: number;
}

/** Sends `durationS` worth of the mix at MEDIA_OPEN_RATE and measures the webhook and the service's CPU. */
async function openLoop(server: ServerChild, mix: RequestMix, durationS: number): Promise<OpenLoopRun> {
  const signed = presign(mix, MEDIA_OPEN_RATE * durationS);
  const cpuBefore = (await server.stats()).cpuMicros;
  const run = await sendAtRate(server.port, signed, MEDIA_OPEN_RATE);
  const cpu = ((await server.stats()).cpuMicros - cpuBefore) / Math.max(1, run.latencies.length);
  return { latencyMs: summary(run.latencies), cpuMicrosPerRequest: round(cpu, 0), errors: signed.length - run.answered };
}

export async function runMedia(root: string, world: World, settings: RoundsSettings, share = 0.2): Promise<MediaPhase> {
  const fake = await startServer(root, 'fake-media', { FAKE_MEDIA_CREDENTIALS: `${BENCH_ACCOUNT_SID}:${BENCH_TOKEN}` });
  const fakeUrl = `http://127.0.0.1:${fake.port}`;
  const served = async (): Promise<number> => (await fake.stats()).counts?.served ?? 0;
  let unauthorized = 0;
  // The middle arm's URLs name another origin than TWILIO_API_BASE_URL (localhost for
  // 127.0.0.1), which the URL policy refuses: the same messages, recorded and related alike,
  // with nothing fetched. Against it, the last arm shows what the fetching costs the webhook.
  const arms = [
    { name: 'without media', share: 0, mediaUrl: fakeUrl, runs: [] as VariantResult[], open: [] as OpenLoopRun[], fetched: 0 },
    { name: `${share * 100}% with ${MEDIA_PER_MESSAGE} media, none fetched`, share, mediaUrl: `http://localhost:${fake.port}`, runs: [] as VariantResult[], open: [] as OpenLoopRun[], fetched: 0 },
    { name: `${share * 100}% with ${MEDIA_PER_MESSAGE} media, fetched`, share, mediaUrl: fakeUrl, runs: [] as VariantResult[], open: [] as OpenLoopRun[], fetched: 0 },
  ];
  try {
    for (let r = 1; r <= settings.rounds; r++) {
      for (const [i, arm] of arms.entries()) {
        const env = serviceEnv(world, { TWILIO_API_BASE_URL: fakeUrl, MEDIA_DIR: join(world.dir, `media-${r}-${i}`) });
        const server = await startServer(root, 'full-service', env);
        const before = await served();
        try {
          const mix = withMedia(mixFor(world, 300 + r), arm.share, arm.mediaUrl, 300 + r);
          arm.runs.push(...(await runRounds([{ name: arm.name, server, mix }], { ...settings, rounds: 1 })));
          const open = await openLoop(server, mix, settings.durationS);
          arm.open.push(open);
          settings.log(
            `  round ${r} ${arm.name}, open loop at ${MEDIA_OPEN_RATE}/s: p50 ${open.latencyMs.p50} ms, p99 ${open.latencyMs.p99} ms, CPU ${open.cpuMicrosPerRequest} µs/request, errors ${open.errors}`,
          );
        } finally {
          await server.stop();
        }
        const fetched = (await served()) - before;
        arm.fetched += fetched;
        settings.log(`  (round ${r}) ${arm.name}: the fake served ${fetched} media files during the turn`);
      }
    }
  } finally {
    unauthorized = (await fake.stats()).counts?.unauthorized ?? 0;
    await fake.stop();
  }
  const result = arms.map(({ name, share: s, runs, open, fetched }): MediaArm => {
    const openMid = (pick: (o: OpenLoopRun) => number): number => round(median(open.map(pick)));
    const mid = (pick: (v: VariantResult) => number): number => round(median(runs.map(pick)));
    return {
      name,
      share: s,
      rps: round(mid((v) => v.rps), 0),
      latencyMs: { p50: mid((v) => v.latencyMs.p50), p99: mid((v) => v.latencyMs.p99), max: Math.max(...runs.map((v) => v.latencyMs.max)) },
      errors: runs.reduce((sum, v) => sum + v.errors, 0),
      requests: runs.reduce((sum, v) => sum + v.requests, 0),
      cpuMicrosPerRequest: round(mid((v) => v.cpuMicrosPerRequest), 0),
      rssMb: Math.max(...runs.map((v) => v.rssMb)),
      open: {
        latencyMs: { p50: openMid((o) => o.latencyMs.p50), p99: openMid((o) => o.latencyMs.p99), max: Math.max(...open.map((o) => o.latencyMs.max)) },
        cpuMicrosPerRequest: round(openMid((o) => o.cpuMicrosPerRequest), 0),
        errors: open.reduce((sum, o) => sum + o.errors, 0),
      },
      p99Rounds: { closed: runs.map((v) => v.latencyMs.p99), open: open.map((o) => o.latencyMs.p99) },
      mediaFetched: fetched,
      unauthorized,
    };
  });
  const [without, notFetched, fetched] = result;
  return {
    arms: result,
    p99Ratio: round((fetched?.latencyMs.p99 ?? NaN) / (without?.latencyMs.p99 ?? NaN)),
    openP99Ratio: round((fetched?.open.latencyMs.p99 ?? NaN) / (without?.open.latencyMs.p99 ?? NaN)),
    fetchP99Ratio: round((fetched?.latencyMs.p99 ?? NaN) / (notFetched?.latencyMs.p99 ?? NaN)),
    fetchOpenP99Ratio: round((fetched?.open.latencyMs.p99 ?? NaN) / (notFetched?.open.latencyMs.p99 ?? NaN)),
  };
}

export interface MediaPhase {
  /** Without media, media not fetched, media fetched. */
  arms: MediaArm[];
  /** p99 fetched / without media, closed and open loop. */
  p99Ratio: number;
  openP99Ratio: number;
  /** p99 fetched / not fetched: what the fetching itself costs the webhook. */
  fetchP99Ratio: number;
  fetchOpenP99Ratio: number;
}

/** The phase's lines for docs/benchmarks.md. */
export function mediaTable(m: MediaPhase): string[] {
  return [
    '',
    `| traffic | closed loop: req/s | p50 ms | p99 ms | max ms | CPU µs/req | errors | open loop ${MEDIA_OPEN_RATE}/s: p50 ms | p99 ms | max ms | CPU µs/req | errors | media fetched |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...m.arms.map(
      (a) =>
        `| ${a.name} | ${a.rps} | ${a.latencyMs.p50} | ${a.latencyMs.p99} | ${a.latencyMs.max} | ${a.cpuMicrosPerRequest} | ${a.errors} | ` +
        `${a.open.latencyMs.p50} | ${a.open.latencyMs.p99} | ${a.open.latencyMs.max} | ${a.open.cpuMicrosPerRequest} | ${a.open.errors} | ${a.mediaFetched} |`,
    ),
    '',
    `- p99 with media fetched / without media: closed loop **${m.p99Ratio}**, open loop at ${MEDIA_OPEN_RATE}/s **${m.openP99Ratio}** (target: the same within noise)`,
    `- p99 with media fetched / the same media not fetched (what the fetching costs the webhook): closed loop **${m.fetchP99Ratio}**, open loop **${m.fetchOpenP99Ratio}**`,
    ...(['closed', 'open'] as const).map((loop) => `- ${loop} loop, p99 per round: ${m.arms.map((a) => `${a.name} ${a.p99Rounds[loop].join(', ')} ms`).join('; ')}`),
    ...(['closed', 'open'] as const).map((loop) => `- ${loop} loop, fetched against without media: ${withinNoise([m.arms[0], m.arms[2]], loop)}; fetched against not fetched: ${withinNoise([m.arms[1], m.arms[2]], loop)}`),
  ];
}

/**
 * The noise test of the media target: the second arm's median p99 against the spread of the
 * first (the baseline) over its own rounds (the same traffic and service, so its spread is
 * the machine's noise). With one round there is no spread to judge by.
 */
export function withinNoise(arms: ReadonlyArray<MediaArm | undefined>, loop: 'closed' | 'open'): string {
  const [baseline, measured] = arms;
  const spread = baseline?.p99Rounds[loop] ?? [];
  const p99 = loop === 'closed' ? measured?.latencyMs.p99 : measured?.open.latencyMs.p99;
  if (spread.length < 2 || p99 === undefined) {
    return 'one round: no spread to judge by';
  }
  const high = Math.max(...spread);
  return p99 <= high ? `within noise (median ${p99} ms ≤ the baseline's highest round, ${high} ms)` : `above noise (median ${p99} ms > the baseline's highest round, ${high} ms)`;
}
