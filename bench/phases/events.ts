/**
 * Events under a steady load: the full service on the embedded store, every clinic with
 * one event endpoint on a receiver in this process, and the webhook driven open loop at a
 * fixed rate (not as fast as it answers: an outbox is judged at a rate production sees).
 * Measures, per run, the webhook's own latency and, for each event the receiver gets, the
 * time from sending the inbound webhook to the receiver's 2xx (both clocks are this
 * process's). Two runs: a receiver that answers at once, and one that never answers (the
 * dispatcher's 15 s timeout holds its workers): delivery must cost the webhook nothing.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { presign, round } from '../lib/load.js';
import { sendAtRate, summary } from '../lib/open-loop.js';
import { startServer } from '../lib/servers.js';
import { mixFor, serviceEnv, type World } from '../lib/world.js';

export type ReceiverMode = 'answers' | 'never-answers';

export interface EventsRun {
  receiver: ReceiverMode;
  /** Inbound messages sent, and answered with 200. */
  sent: number;
  answered: number;
  webhookMs: { p50: number; p99: number; max: number };
  /** Events the receiver got (with a MessageSid sent in this run). */
  events: number;
  /** From sending the inbound webhook to the receiver's 2xx; null when it never answers. */
  eventMs: { p50: number; p99: number; max: number } | null;
}

export interface EventsResult {
  ratePerS: number;
  durationS: number;
  runs: EventsRun[];
  /** Webhook p99 with the receiver that never answers over the one that answers at once (target ≤ 1.1). */
  p99Ratio: number;
}

/** A receiver on loopback: notes when each event arrives, then answers 200 at once, or never. */
async function startReceiver(mode: ReceiverMode, onEvent: (messageSid: string, at: number) => void): Promise<{ url: string; close(): Promise<void> }> {
  const held = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      if (mode === 'never-answers') {
        held.add(res);
        return;
      }
      res.writeHead(200).end();
      try {
        const sid = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { messageSid?: unknown } }).data?.messageSid;
        if (typeof sid === 'string') {
          onEvent(sid, at);
        }
      } catch {
        // not an event: ignored
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/sms`,
    close: async () => {
      held.forEach((res) => res.destroy());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The world's clinics file with one endpoint per clinic. */
export async function clinicsWithEndpoint(world: World, url: string, tag: string): Promise<string> {
  const endpoint = `    events:\n      - url: ${url}\n        secretEnv: BENCH_EVENTS_SECRET\n        allowInsecure: true\n`;
  const text = (await readFile(world.clinicsFile, 'utf8')).trimEnd();
  const file = join(world.dir, `clinics-events-${tag}.yaml`);
  // Each clinic's block ends where the next begins (the first follows `clinics:`), and the last at the end.
  let seen = 0;
  await writeFile(file, `${text.replace(/\n {2}- id: /g, (m) => (seen++ === 0 ? m : `\n${endpoint.trimEnd()}${m}`))}\n${endpoint}`);
  return file;
}

async function runOnce(root: string, world: World, mode: ReceiverMode, options: { ratePerS: number; durationS: number; warmupS: number }, seed: number): Promise<EventsRun> {
  const arrivals = new Map<string, number>();
  const receiver = await startReceiver(mode, (sid, at) => {
    if (!arrivals.has(sid)) {
      arrivals.set(sid, at);
    }
  });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const server = await startServer(root, 'full-service', serviceEnv(world, { CLINICS_FILE: await clinicsWithEndpoint(world, receiver.url, mode), BENCH_EVENTS_SECRET: secret }));
  try {
    const mix = mixFor(world, seed);
    await sendAtRate(server.port, presign(mix, Math.ceil(options.ratePerS * options.warmupS)), options.ratePerS);
    const load = await sendAtRate(server.port, presign(mix, Math.ceil(options.ratePerS * options.durationS)), options.ratePerS);
    // Deliveries of the last messages: at most a few seconds after the last reply.
    await new Promise((resolve) => setTimeout(resolve, mode === 'answers' ? 3000 : 0));
    const eventLatencies = [...arrivals].filter(([sid]) => load.sentAt.has(sid)).map(([sid, at]) => at - (load.sentAt.get(sid) as number));
    return {
      receiver: mode,
      sent: load.latencies.length,
      answered: load.answered,
      webhookMs: summary(load.latencies),
      events: eventLatencies.length,
      eventMs: mode === 'answers' ? summary(eventLatencies) : null,
    };
  } finally {
    await server.stop();
    await receiver.close();
  }
}

/**
 * @param root - the repository (the service runs from its dist/)
 * @param world - clinics, patients and the seed file
 * @param options - the steady rate, how long each run lasts, the warm-up before it
 */
export async function runEvents(root: string, world: World, options: { ratePerS: number; durationS: number; warmupS: number }): Promise<EventsResult> {
  const answers = await runOnce(root, world, 'answers', options, 4242);
  const hangs = await runOnce(root, world, 'never-answers', options, 4242);
  return { ratePerS: options.ratePerS, durationS: options.durationS, runs: [answers, hangs], p99Ratio: round(hangs.webhookMs.p99 / answers.webhookMs.p99) };
}
