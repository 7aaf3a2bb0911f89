/**
 * The MongoDB path under load (issue 28): the compiled service, three instances on one
 * database (the test database: FerretDB on PostgreSQL, tools/ferretdb), one of them running
 * the background jobs (BACKGROUND_JOBS=off on the other two), every clinic with an event
 * endpoint on a receiver in this process and media on a local fake of Twilio's media API.
 * The webhook is driven open loop, round-robin over the three, at each rate in turn, with
 * the realistic request mix; the embedded store (one instance: it cannot be shared) runs
 * the same rates beside it. Then the database is paused for 30 s while messages keep
 * coming (they are spooled), and the spool's replay is timed while live traffic goes on.
 *
 * Database commands come from the driver's command monitoring in each service process
 * (bench/servers/full-service.ts, BENCH_COUNT_COMMANDS): per message kind, from messages
 * sent one at a time to a webhook-only instance; for the background jobs, per message over
 * a load run. Each distinct query shape is EXPLAINed on the database: index or scan.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { BSON, MongoClient, type Document } from 'mongodb';
import { startDatabase, type BenchDatabase } from '../lib/ferretdb.js';
import { presign, round } from '../lib/load.js';
import { sendAtRate, summary } from '../lib/open-loop.js';
import type { SignedRequest } from '../lib/request-mix.js';
import { startServer, type ServerChild } from '../lib/servers.js';
import { BENCH_ACCOUNT_SID, BENCH_TOKEN, mixFor, serviceEnv, type World } from '../lib/world.js';
import { clinicsWithEndpoint } from './events.js';

type Stats = { p50: number; p99: number; max: number };

export interface RateRun {
  store: 'mongo' | 'embedded';
  ratePerS: number;
  sent: number;
  answered: number;
  webhookMs: Stats;
  /**
   * The same requests' time inside the service (sms_webhook_duration_seconds, from the request's
   * arrival to its answer), as the histogram bucket bounds that hold p50 and p99: the rest of
   * webhookMs waited for a connection or for the service's event loop.
   */
  serverMs: { p50: number; p99: number };
  /** Webhooks the instances answered after spooling the message (sms_webhook_requests_total{outcome="spooled"}). */
  spooled: number;
  /** Events with a MessageSid of this run that reached the receiver, and deliveries of a webhook-id seen before. */
  events: number;
  duplicateDeliveries: number;
  eventMs: Stats;
  /** Media files the fake served during the run (and up to the settle time after it). */
  mediaFetched: number;
  /** Commands the jobs instance sent per message sent (relay, dispatch, media). */
  jobCommandsPerMessage?: number;
  /** Mean ms a command waited for the database, by command:collection, over every instance (the slowest first). */
  commandMs?: Array<[string, number, number]>;
  /** Mean ms a command waited for a pooled connection before it was sent (not in commandMs), checkouts that failed, connections opened. */
  pool?: { checkoutMs: number; failed: number; opened: number };
}

export interface KindCommands {
  kind: string;
  messages: number;
  /** Median commands one message of this kind costs on the webhook path, and the commands of that message. */
  median: number;
  commands: string;
}

export interface QueryPlan {
  query: string;
  plan: string;
  index: boolean;
}

export interface MongoPhaseResult {
  backend: string;
  durationS: number;
  runs: RateRun[];
  kinds: KindCommands[];
  plans: QueryPlan[];
  replay: {
    pauseS: number;
    /** In the spools when the database came back (spooled during the pause). */
    spooled: number;
    /** Live messages spooled after the database came back (past their deadline during the drain). */
    spooledDuringDrain: number;
    /** From the database's return to every instance's spool empty. */
    drainS: number;
    perS: number;
    liveRatePerS: number;
    liveBefore: Stats;
    liveDuring: Stats;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The service's Prometheus text, as a map of `name{labels}` to value. */
async function metrics(port: number): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) {
      out.set(m[1] as string, Number(m[2]));
    }
  }
  return out;
}

/** p50 and p99 of sms_webhook_duration_seconds between two snapshots of every instance's metrics, as bucket bounds in ms. */
function serverTimes(before: Map<string, number>[], after: Map<string, number>[]): { p50: number; p99: number } {
  const buckets = new Map<number, number>();
  for (const [i, m] of after.entries()) {
    for (const [k, v] of m) {
      const le = /^sms_webhook_duration_seconds_bucket\{.*le="([^"]+)".*\}$/.exec(k)?.[1];
      if (le !== undefined) {
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) * 1000;
        buckets.set(bound, (buckets.get(bound) ?? 0) + v - (before[i]?.get(k) ?? 0));
      }
    }
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  const at = (q: number): number => sorted.find(([, n]) => n >= q * total)?.[0] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

/** The connection pool's share between two stats snapshots (bench/servers/full-service.ts counts it). */
function poolOf(c0: Record<string, number>, c1: Record<string, number>): { checkoutMs: number; failed: number; opened: number } {
  const d = (k: string): number => (c1[k] ?? 0) - (c0[k] ?? 0);
  const n = d('pool checkouts') + d('pool checkouts failed');
  return { checkoutMs: n > 0 ? round(d('pool checkout ms') / n, 1) : 0, failed: d('pool checkouts failed'), opened: d('pool connections opened') };
}

const spooledCount = async (ports: number[]): Promise<number> =>
  (await Promise.all(ports.map(metrics))).reduce((s, m) => s + (m.get('sms_webhook_requests_total{outcome="spooled"}') ?? 0), 0);
/**
 * Every instance's spool depth, from /readyz (one ping of the database each). Not from
 * /metrics: a scrape counts the media backlogs (countDocuments), which FerretDB answers by
 * reading every document; scraped every 250 ms during the drain, that alone held it busy.
 */
async function spoolDepth(ports: number[]): Promise<number> {
  const depths = await Promise.all(
    ports.map(
      (port) =>
        new Promise<number>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve(Number((JSON.parse(body) as { details?: { spoolDepth?: number } }).details?.spoolDepth ?? 0)));
          }).on('error', reject);
        }),
    ),
  );
  return depths.reduce((a, b) => a + b, 0);
}

/** A receiver that answers 200 at once, noting each event's first arrival and repeated webhook-ids. */
async function startReceiver(): Promise<{ url: string; arrivals: Map<string, number>; duplicates: () => number; close(): Promise<void> }> {
  const arrivals = new Map<string, number>();
  const seen = new Set<string>();
  let duplicates = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      res.writeHead(200).end();
      const id = String(req.headers['webhook-id'] ?? '');
      if (seen.has(id)) {
        duplicates += 1;
      }
      seen.add(id);
      try {
        const sid = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { messageSid?: unknown } }).data?.messageSid;
        if (typeof sid === 'string' && !arrivals.has(sid)) {
          arrivals.set(sid, at);
        }
      } catch {
        // not an event
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/sms`,
    arrivals,
    duplicates: () => duplicates,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Open loop over several instances: request i goes to ports[i mod n] (a load balancer's round robin). */
async function sendSpread(ports: number[], requests: readonly SignedRequest[], ratePerS: number): Promise<Awaited<ReturnType<typeof sendAtRate>>> {
  const parts = ports.map((port, p) => sendAtRate(port, requests.filter((_, i) => i % ports.length === p), ratePerS / ports.length));
  const done = await Promise.all(parts);
  return {
    sentAt: new Map(done.flatMap((d) => [...d.sentAt])),
    latencies: done.flatMap((d) => d.latencies),
    answered: done.reduce((s, d) => s + d.answered, 0),
  };
}

/** The keyword of a keyword request (CONFIRM, STOP, ...), else its kind. */
function kindOf(r: SignedRequest): string {
  if (r.kind !== 'keyword') {
    return r.kind;
  }
  const body = new URLSearchParams(r.body).get('Body') ?? '';
  return `keyword ${body.split(/\s+/)[0]?.toUpperCase() ?? ''}`;
}

/** EXPLAINs each query shape the service sent; an index scan anywhere in the plan counts as "index". */
async function explainShapes(db: BenchDatabase, file: string): Promise<QueryPlan[]> {
  let shapes: { id: string; command: string; collection: string; db: string; body: Document }[];
  try {
    shapes = BSON.EJSON.parse(await readFile(file, 'utf8'), { relaxed: false }) as typeof shapes;
  } catch {
    return [];
  }
  const client = new MongoClient(db.uri);
  const plans: QueryPlan[] = [];
  try {
    for (const s of shapes.filter((x) => ['find', 'findAndModify', 'update', 'delete', 'count', 'aggregate'].includes(x.command))) {
      // FerretDB's explain reads only a find's `filter` (and sort): an update, findAndModify,
      // delete or count runs its filter through the same query, so it is explained as that find.
      const b = s.body;
      const first = (list: unknown): Document | undefined => (Array.isArray(list) ? (list[0] as { q?: Document } | undefined)?.q : undefined);
      const filter = (b.filter ?? b.query ?? first(b.updates) ?? first(b.deletes) ?? {}) as Document;
      const body: Document = { find: s.collection, filter, ...(b.sort ? { sort: b.sort as Document } : {}) };
      try {
        const e = await client.db(s.db).command({ explain: body, verbosity: 'queryPlanner' });
        const text = JSON.stringify(e.queryPlanner ?? e);
        const nodes = [...new Set([...text.matchAll(/"Node Type":"([^"]+)"/g)].map((m) => m[1] as string))];
        plans.push({ query: s.id.replace(/"/g, ''), plan: nodes.join(' > ') || 'none', index: nodes.some((n) => n.includes('Index')) });
      } catch (err) {
        plans.push({ query: s.id.replace(/"/g, ''), plan: `explain refused: ${(err as Error).message.slice(0, 60)}`, index: false });
      }
    }
  } finally {
    await client.close();
  }
  return plans;
}

export interface MongoPhaseOptions {
  rates: number[];
  durationS: number;
  warmupS: number;
  /** Messages to spool during the pause, and how long the pause lasts. */
  spool: number;
  pauseS: number;
  /** Live traffic while the spool replays. */
  liveRatePerS: number;
  /** Only the pause and the replay (`--only=mongo-replay`): no rates, no per-kind counts, no embedded store. */
  replayOnly?: boolean;
  log: (line: string) => void;
}

/**
 * @param root - the repository (the service runs from its dist/)
 * @param world - clinics, patients and the seed file
 */
export async function runMongo(root: string, world: World, options: MongoPhaseOptions): Promise<MongoPhaseResult> {
  const { log } = options;
  const db = await startDatabase(root);
  const children: ServerChild[] = [];
  const receiver = await startReceiver();
  const commandsFile = join(world.dir, `commands-${Date.now()}.json`);
  try {
    const dbName = `bench_${Date.now().toString(36)}`;
    const uri = db.uriFor(dbName);
    const t0 = performance.now();
    await promisify(execFile)(process.execPath, ['dist/src/cli/index.js', 'import', world.seedFile], { cwd: root, env: { ...process.env, MONGODB_URI: uri, CLINICS_FILE: world.clinicsFile } });
    log(`  database: FerretDB (${db.backend}); ${world.patients.length} patients and ${world.appointments.length} appointments imported in ${round((performance.now() - t0) / 1000, 1)} s`);

    const fake = await startServer(root, 'fake-media', { FAKE_MEDIA_CREDENTIALS: `${BENCH_ACCOUNT_SID}:${BENCH_TOKEN}` });
    children.push(fake);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const clinicsFile = await clinicsWithEndpoint(world, receiver.url, 'mongo');
    const base = { CLINICS_FILE: clinicsFile, BENCH_EVENTS_SECRET: secret, TWILIO_API_BASE_URL: `http://127.0.0.1:${fake.port}` };
    const served = async (): Promise<number> => (await fake.stats()).counts?.served ?? 0;

    /** Runs the rates against the given instances (webhook p50/p99, events, media, spooled). */
    /** The driver's command counts (and ms) of the given instances, summed. */
    const countsOfAll = async (monitored: ServerChild[]): Promise<Record<string, number>> => {
      const sum: Record<string, number> = {};
      for (const c of monitored) {
        for (const [k, v] of Object.entries((await c.stats()).counts ?? {})) {
          sum[k] = (sum[k] ?? 0) + v;
        }
      }
      return sum;
    };
    const runRates = async (store: RateRun['store'], ports: number[], seed: number, jobs?: ServerChild, monitored: ServerChild[] = []): Promise<RateRun[]> => {
      const countsOf = (): Promise<Record<string, number>> => countsOfAll(monitored);
      const mix = mixFor(world, seed);
      await sendSpread(ports, presign(mix, Math.ceil(options.rates[0]! * options.warmupS)), options.rates[0]!);
      const out: RateRun[] = [];
      for (const rate of options.rates) {
        const requests = presign(mix, Math.ceil(rate * options.durationS));
        const [spooled0, media0, dup0, jobs0] = [await spooledCount(ports), await served(), receiver.duplicates(), (await jobs?.stats())?.counts?.total ?? 0];
        const c0 = await countsOf();
        const h0 = await Promise.all(ports.map(metrics));
        const load = await sendSpread(ports, requests, rate);
        const c1 = await countsOf();
        const h1 = await Promise.all(ports.map(metrics));
        const commandMs = Object.keys(c1)
          .filter((k) => !k.startsWith('ms ') && !k.startsWith('pool ') && k !== 'total' && (c1[k] ?? 0) > (c0[k] ?? 0))
          .map((k): [string, number, number] => {
            const n = (c1[k] ?? 0) - (c0[k] ?? 0);
            return [k, n, round(((c1[`ms ${k}`] ?? 0) - (c0[`ms ${k}`] ?? 0)) / n, 1)];
          })
          .sort((a, b) => b[2] - a[2]);
        await sleep(5000); // the last events and media: the goal is 5 s at p99
        const eventMs = [...receiver.arrivals].filter(([sid]) => load.sentAt.has(sid)).map(([sid, at]) => at - (load.sentAt.get(sid) as number));
        const run: RateRun = {
          store,
          ratePerS: rate,
          sent: load.latencies.length,
          answered: load.answered,
          webhookMs: summary(load.latencies),
          serverMs: serverTimes(h0, h1),
          spooled: (await spooledCount(ports)) - spooled0,
          events: eventMs.length,
          duplicateDeliveries: receiver.duplicates() - dup0,
          eventMs: summary(eventMs),
          mediaFetched: (await served()) - media0,
          ...(jobs ? { jobCommandsPerMessage: round((((await jobs.stats()).counts?.total ?? 0) - jobs0) / requests.length, 1) } : {}),
          ...(monitored.length > 0 ? { commandMs, pool: poolOf(c0, c1) } : {}),
        };
        log(
          `  ${store} ${rate}/s: webhook p50 ${run.webhookMs.p50} ms, p99 ${run.webhookMs.p99} ms (${run.answered}/${run.sent} 200; in the service p50 ≤ ${run.serverMs.p50} ms, p99 ≤ ${run.serverMs.p99} ms), spooled ${run.spooled}, ` +
            `events ${run.events} p99 ${run.eventMs.p99} ms (${run.duplicateDeliveries} repeats), media fetched ${run.mediaFetched}` +
            (run.jobCommandsPerMessage !== undefined ? `, jobs instance ${run.jobCommandsPerMessage} commands/message` : ''),
        );
        if (run.commandMs) {
          log(`    database wait per command (count, mean ms): ${run.commandMs.map(([k, n, ms]) => `${k} ${n} ${ms}`).join('; ')}`);
          log(`    connection pool: mean wait for a connection ${run.pool?.checkoutMs} ms before a command was sent, ${run.pool?.failed} checkouts failed, ${run.pool?.opened} connections opened`);
        }
        out.push(run);
      }
      return out;
    };

    // ---- three instances on one database ----
    const instanceEnv = (i: number): Record<string, string> =>
      serviceEnv(world, { ...base, MONGODB_URI: uri, SEED_FILE: 'none', BACKGROUND_JOBS: i === 0 ? 'on' : 'off', BENCH_COUNT_COMMANDS: `${commandsFile}.${i}` });
    const instances: ServerChild[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startServer(root, 'full-service', instanceEnv(i));
      children.push(s);
      instances.push(s);
    }
    const ports = instances.map((s) => s.port);
    const [jobs, webhookOnly] = instances as [ServerChild, ServerChild, ServerChild];

    // Commands per message kind: one message at a time to a webhook-only instance.
    const kinds = new Map<string, { counts: number[]; detail: string[] }>();
    const sample = presign(mixFor(world, 777), 300);
    // Every message of the sample is sent (a duplicate's first delivery comes before it); ten of each kind are counted.
    for (const r of options.replayOnly ? [] : sample) {
      const k = kindOf(r);
      const entry = kinds.get(k) ?? { counts: [], detail: [] };
      if (entry.counts.length >= 10) {
        await sendAtRate(webhookOnly.port, [r], 1);
        continue;
      }
      const before = (await webhookOnly.stats()).counts ?? {};
      await sendAtRate(webhookOnly.port, [r], 1);
      const after = (await webhookOnly.stats()).counts ?? {};
      const diff = Object.keys(after)
        .filter((c) => c !== 'total' && !c.startsWith('ms ') && !c.startsWith('pool ') && (after[c] ?? 0) > (before[c] ?? 0))
        .map((c) => `${c}${(after[c] ?? 0) - (before[c] ?? 0) > 1 ? ` x${(after[c] ?? 0) - (before[c] ?? 0)}` : ''}`);
      entry.counts.push((after.total ?? 0) - (before.total ?? 0));
      entry.detail.push(diff.join(', '));
      kinds.set(k, entry);
    }
    const kindRows: KindCommands[] = [...kinds]
      .map(([kind, e]) => {
        const order = e.counts.map((c, i) => [c, i] as const).sort((a, b) => a[0] - b[0]);
        const mid = order[Math.floor(order.length / 2)] as readonly [number, number];
        return { kind, messages: e.counts.length, median: mid[0], commands: e.detail[mid[1]] ?? '' };
      })
      .sort((a, b) => a.kind.localeCompare(b.kind));
    for (const k of kindRows) {
      log(`  commands per message, ${k.kind} (${k.messages}): median ${k.median}: ${k.commands}`);
    }

    const runs = options.replayOnly ? [] : await runRates('mongo', ports, 4242, jobs, instances);

    // The pause: messages keep coming while the database is frozen; they are spooled.
    const liveMix = mixFor(world, 9090);
    const pauseRate = Math.ceil(options.spool / options.pauseS);
    // (Replay only: 20 s of live traffic before the pause, the warm-up and the comparison.)
    const beforeS = options.replayOnly ? 20 : 5;
    log(`    live ${options.liveRatePerS}/s for ${beforeS} s before the pause`);
    // Spooled counts from /metrics only outside the timed part: a scrape runs the stored
    // gauges' aggregates (media backlogs, events stats), which FerretDB answers in Go.
    const spooled0 = await spooledCount(ports);
    const before = await sendSpread(ports, presign(liveMix, options.liveRatePerS * beforeS), options.liveRatePerS);
    log(`    the database is paused for ${options.pauseS} s`);
    db.pause();
    const pausedAt = performance.now();
    const pausedLoad = sendSpread(ports, presign(liveMix, pauseRate * options.pauseS), pauseRate);
    await sleep(Math.max(0, options.pauseS * 1000 - (performance.now() - pausedAt)));
    db.resume();
    const resumedAt = performance.now();
    log('    the database is back: the replay and live traffic');
    // The driver's commands during the drain (replays and live traffic together), per instance.
    const drain0 = await Promise.all(instances.map((s) => countsOfAll([s])));
    let window0 = drain0;
    const sumOf = (c: Record<string, number>, pick: (k: string) => boolean): number => Object.keys(c).filter(pick).reduce((n, k) => n + (c[k] ?? 0), 0);
    const delta = (a: Record<string, number>[], b: Record<string, number>[], pick: (k: string) => boolean): number => b.reduce((n, c, i) => n + sumOf(c, pick) - sumOf(a[i] ?? {}, pick), 0);
    const commandLine = (a: Record<string, number>[], b: Record<string, number>[], s: number): string => {
      const n = Math.max(1, delta(a, b, (k) => k === 'total'));
      return (
        b.map((c, i) => `W${i} ${round(((c.total ?? 0) - (a[i]?.total ?? 0)) / s, 0)}/s`).join(', ') +
        `, mean wait for the answer ${round(delta(a, b, (k) => k.startsWith('ms ')) / n, 0)} ms, for a pooled connection ${round(delta(a, b, (k) => k === 'pool checkout ms') / Math.max(1, delta(a, b, (k) => k === 'pool checkouts')), 0)} ms`
      );
    };
    // Live traffic during the replay, until every spool is empty (or 120 s).
    const live = sendSpread(ports, presign(liveMix, options.liveRatePerS * 60), options.liveRatePerS);
    // The replayer waits out its backoff (up to 5 s) before its first pass: the first depth is what the pause spooled.
    const spooled = await spoolDepth(ports);
    let drainS = NaN;
    let shownAt = resumedAt;
    while (performance.now() - resumedAt < 120_000) {
      const depth = await spoolDepth(ports);
      if (depth === 0) {
        drainS = round((performance.now() - resumedAt) / 1000, 1);
        break;
      }
      if (performance.now() - shownAt >= 10_000) {
        // Where the replay stands (no /metrics scrape here: see spoolDepth).
        shownAt = performance.now();
        const window1 = await Promise.all(instances.map((s) => countsOfAll([s])));
        log(`    ${round((shownAt - resumedAt) / 1000, 0)} s after the database came back: ${depth} in the spools; commands ${commandLine(window0, window1, 10)}`);
        window0 = window1;
      }
      await sleep(1000);
    }
    const drainEndS = (performance.now() - resumedAt) / 1000;
    const drain1 = await Promise.all(instances.map((s) => countsOfAll([s])));
    const during = await live;
    await pausedLoad;
    const spooledDuringDrain = (await spooledCount(ports)) - spooled0 - spooled;
    // How the replays ended (sms_spool_replayed_total by result, every instance).
    const ended = new Map<string, number>();
    for (const m of await Promise.all(ports.map(metrics))) {
      for (const [k, v] of m) {
        const r = /^sms_spool_replayed_total\{result="([^"]+)"\}$/.exec(k);
        if (r) {
          ended.set(r[1] as string, (ended.get(r[1] as string) ?? 0) + v);
        }
      }
    }
    log(`    replays by result: ${[...ended].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
    {
      const replayedN = [...ended].filter(([k]) => k !== 'failed').reduce((n, [, v]) => n + v, 0);
      const liveN = Math.min(during.latencies.length, Math.round(drainEndS * options.liveRatePerS));
      const total = drain1.reduce((n, c, i) => n + (c.total ?? 0) - (drain0[i]?.total ?? 0), 0);
      const byKind = new Map<string, number>();
      for (const [i, c] of drain1.entries()) {
        for (const k of Object.keys(c).filter((x) => x !== 'total' && !x.startsWith('ms ') && !x.startsWith('pool '))) {
          byKind.set(k, (byKind.get(k) ?? 0) + (c[k] ?? 0) - (drain0[i]?.[k] ?? 0));
        }
      }
      log(
        `    drain (${round(drainEndS, 0)} s): ${total} commands (${round(total / drainEndS, 0)}/s: ${commandLine(drain0, drain1, drainEndS)}), ` +
          `${replayedN} replayed + about ${liveN} live = ${round(total / Math.max(1, replayedN + liveN), 1)} commands a message; ` +
          `by command: ${[...byKind].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => `${k} ${n}`).join(', ')}`,
      );
    }
    const replay = {
      pauseS: options.pauseS,
      spooled,
      spooledDuringDrain,
      drainS,
      perS: round(spooled / drainS, 1),
      liveRatePerS: options.liveRatePerS,
      liveBefore: summary(before.latencies),
      liveDuring: summary(during.latencies),
    };
    log(
      `  replay: ${spooled} spooled during a ${options.pauseS} s pause (${spooledDuringDrain} live ones after it), every spool empty ${drainS} s after the database came back (${replay.perS}/s); ` +
        `live ${options.liveRatePerS}/s p99 ${replay.liveBefore.p99} ms before, ${replay.liveDuring.p99} ms during`,
    );

    const plans = options.replayOnly ? [] : (await Promise.all([0, 1, 2].map((i) => explainShapes(db, `${commandsFile}.${i}`)))).flat();
    const unique = [...new Map(plans.map((p) => [p.query, p])).values()].sort((a, b) => a.query.localeCompare(b.query));
    for (const s of instances) {
      await s.stop();
    }

    // ---- the embedded store beside it: one instance, the same rates ----
    let embeddedRuns: RateRun[] = [];
    if (!options.replayOnly) {
      const embedded = await startServer(root, 'full-service', serviceEnv(world, base));
      children.push(embedded);
      embeddedRuns = await runRates('embedded', [embedded.port], 4243);
    }
    return { backend: db.backend, durationS: options.durationS, runs: [...runs, ...embeddedRuns], kinds: kindRows, plans: unique, replay };
  } finally {
    for (const c of children) {
      await c.stop();
    }
    await receiver.close();
    await db.stop();
  }
}

/** The phase's lines for docs/benchmarks.md. */
export function mongoTable(r: MongoPhaseResult): string[] {
  const lines = [
    `MongoDB path: three instances (one running the background jobs) on FerretDB (${r.backend}), the embedded store (one instance) beside it; open loop, ${r.durationS} s a rate, the request mix.`,
    '',
    '| store | msg/s | webhook p50 ms | p99 ms | 200s | spooled | events | event p99 ms | repeats | media fetched | jobs commands/msg |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.runs.map(
      (x): string =>
        `| ${x.store} | ${x.ratePerS} | ${x.webhookMs.p50} | ${x.webhookMs.p99} | ${x.answered}/${x.sent} | ${x.spooled} | ${x.events} | ${x.eventMs.p99} | ${x.duplicateDeliveries} | ${x.mediaFetched} | ${x.jobCommandsPerMessage ?? ''} |`,
    ),
    '',
    ...r.runs
      .filter((x) => x.commandMs)
      .map(
        (x) =>
          `- database wait per command at ${x.ratePerS}/s (count, mean ms, slowest first): ${(x.commandMs ?? []).slice(0, 8).map(([k, n, ms]) => `${k} ${n}× ${ms}`).join('; ')}; ` +
          `then a mean ${x.pool?.checkoutMs} ms for a pooled connection before each (${x.pool?.opened} opened)`,
      ),
    '',
    `- spool replay: ${r.replay.spooled} messages spooled during a ${r.replay.pauseS} s database pause (${r.replay.spooledDuringDrain} live ones during the drain); every spool empty **${r.replay.drainS} s** after the database came back (${r.replay.perS} messages/s; goal 1,000 in < 60 s); live ${r.replay.liveRatePerS}/s p99 ${r.replay.liveBefore.p99} ms before, ${r.replay.liveDuring.p99} ms during`,
    '',
    '| message kind (webhook path) | commands (median) | the commands of that message |',
    '|---|---:|---|',
    ...r.kinds.map((k) => `| ${k.kind} | ${k.median} | ${k.commands} |`),
    '',
    '| query shape (command:collection filter sort) | plan on FerretDB | index |',
    '|---|---|---|',
    ...r.plans.map((p) => `| \`${p.query.replace(/\|/g, '\\|')}\` | ${p.plan} | ${p.index ? 'yes' : '**scan**'} |`),
  ];
  return lines;
}
