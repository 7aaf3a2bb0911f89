/**
 * npm run bench -- [--quick] [--only=compare,rules,clinics,sustained,events,media,mongo,mongo-replay,staff] [--rounds=N] [--duration=S] [--sustained=S]
 *
 * Builds the service (npm run build) and the comparison servers, measures them on
 * loopback with autocannon, prints a Markdown table for docs/benchmarks.md and writes the
 * numbers to var/bench/latest.json. See docs/benchmarks.md for the method and targets.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './lib/load.js';
import { buildAll } from './lib/servers.js';
import { createWorld } from './lib/world.js';
import { runClinicsScale } from './phases/clinics-scale.js';
import { runCompare } from './phases/compare.js';
import { runEvents } from './phases/events.js';
import { mediaTable, runMedia } from './phases/media.js';
import { mongoTable, runMongo } from './phases/mongo.js';
import { runRulesScale } from './phases/rules-scale.js';
import { runSustained } from './phases/sustained.js';
import { runStaff } from './phases/staff.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PHASES = ['compare', 'rules', 'clinics', 'sustained', 'events', 'media', 'mongo', 'mongo-replay', 'staff'] as const;
const log = (line: string): void => void process.stdout.write(`${line}\n`);
/** The events phase's steady inbound rate (issue 15: 200 messages/s). */
const EVENTS_RATE = 200;
/** The MongoDB phase's open-loop rates (issue 28). */
const MONGO_RATES = [50, 100, 200];

function parseArgs(argv: readonly string[]): { quick: boolean; phases: Set<string>; rounds: number; durationS: number; sustainedS: number } {
  const value = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  for (const a of argv) {
    if (a !== '--quick' && !/^--(only|rounds|duration|sustained)=/.test(a)) {
      throw new Error(`unknown option ${a}; usage: npm run bench -- [--quick] [--only=${PHASES.join(',')}] [--rounds=N] [--duration=S] [--sustained=S]`);
    }
  }
  const quick = argv.includes('--quick');
  const phases = new Set(value('only')?.split(',') ?? PHASES);
  const unknown = [...phases].filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw new Error(`unknown phase(s) ${unknown.join(', ')}; phases: ${PHASES.join(', ')}`);
  }
  const num = (name: string, fallback: number): number => {
    const n = Number(value(name) ?? fallback);
    if (!Number.isFinite(n) || n <= 0) {
      throw new Error(`--${name} must be a positive number`);
    }
    return n;
  };
  return { quick, phases, rounds: num('rounds', quick ? 1 : 3), durationS: num('duration', quick ? 3 : 8), sustainedS: num('sustained', quick ? 10 : 60) };
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
  const machine = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    commit: git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? ' (dirty)' : ''),
    loadAverage: loadavg().map((x) => round(x, 1)),
  };
  const settings = { connections: 10, rounds: args.rounds, durationS: args.durationS, warmupS: args.quick ? 2 : 3, log };
  log(`clinic-sms bench (${args.quick ? 'quick' : 'full'}): ${[...args.phases].join(', ')}; ${args.rounds} round(s) of ${args.durationS} s, sustained ${args.sustainedS} s`);
  log(`${machine.date}, ${machine.nproc} CPUs (${machine.cpu}), load ${machine.loadAverage.join(' / ')}, Node ${machine.node}, commit ${machine.commit}`);
  log(`built dist/ and var/bench-build/ in ${round((await buildAll(ROOT)) / 1000, 1)} s`);

  const results: Record<string, unknown> = { machine, settings: { ...settings, log: undefined, sustainedS: args.sustainedS } };
  const table: string[] = [];
  const world = await createWorld({ clinics: 4, patientsPerClinic: 500 });
  try {
    if (args.phases.has('compare')) {
      log('\n== service next to bare Koa, the minimal handler and express-quickstart');
      const variants = await runCompare(ROOT, world, settings);
      const by = (name: string) => variants.find((v) => v.name === name);
      const service = by('service');
      const peer = by('express-quickstart');
      const ratio = (name: string): number => round((service?.rps ?? NaN) / (by(name)?.rps ?? NaN));
      // The same comparison by server CPU per request, which the neighbours on a shared machine disturb least.
      const cpuRatio = round((peer?.cpuMicrosPerRequest ?? NaN) / (service?.cpuMicrosPerRequest ?? NaN));
      results.compare = { variants, ratios: { overExpressQuickstart: ratio('express-quickstart'), cpuExpressOverService: cpuRatio, overMinimal: ratio('minimal handler'), overBareKoa: ratio('bare Koa') } };
      table.push('| server | req/s | p50 ms | p99 ms | max ms | CPU µs/req | RSS MB | errors |', '|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const v of variants) {
        table.push(`| ${v.name} | ${v.rps} | ${v.latencyMs.p50} | ${v.latencyMs.p99} | ${v.latencyMs.max} | ${v.cpuMicrosPerRequest} | ${v.rssMb} | ${v.errors} |`);
      }
      table.push(
        '',
        `- service / express-quickstart: **${ratio('express-quickstart')}** req/s (target ≥ 1.0); service p99 **${service?.latencyMs.p99} ms** at 10 connections (target ≤ 5 ms; the peer: ${peer?.latencyMs.p99} ms)`,
        `- by CPU per request, express-quickstart / service: ${cpuRatio} (above 1: the service costs less per request)`,
        `- service / minimal handler: ${ratio('minimal handler')}; service / bare Koa: ${ratio('bare Koa')}`,
      );
    }
    if (args.phases.has('rules')) {
      log('\n== rules per clinic');
      const counts = args.quick ? [10, 200] : [10, 50, 200];
      const rows = await runRulesScale(ROOT, counts, { clinics: 4, patientsPerClinic: 500 }, settings);
      results.rulesScale = rows;
      table.push('', `- rules per clinic (req/s, ratio to 10): ${rows.map((r) => `${r.rulesPerClinic}: ${r.rps} (${r.throughputRatio}; CPU per request ${r.cpuRatio}x)`).join(', ')}; 200 rules / 10 target ≥ 0.77 (cost ≤ 1.3x)`);
    }
    if (args.phases.has('clinics')) {
      log('\n== clinics: start-up, memory, reload');
      const rows = await runClinicsScale(ROOT, [4, 1000], args.quick ? 3 : 10);
      results.clinicsScale = rows;
      for (const r of rows) {
        log(`  ${r.clinics} clinics: listening ${r.startMs} ms after fork, RSS ${r.rssMb} MB, whole reload p50 ${r.reloadMs?.p50} ms, max ${r.reloadMs?.max} ms`);
      }
      const big = rows.at(-1);
      table.push(`- ${big?.clinics} clinics: listening ${big?.startMs} ms after fork (target < 3 s), RSS ${big?.rssMb} MB (target < 300 MB), whole reload p50 ${big?.reloadMs?.p50} ms, max ${big?.reloadMs?.max} ms`);
    }
    if (args.phases.has('sustained')) {
      log(`\n== sustained: ${args.sustainedS} s at 10 connections`);
      const s = await runSustained(ROOT, world, { durationS: args.sustainedS, warmupS: args.quick ? 3 : 10, connections: 10 });
      results.sustained = s;
      const line =
        `- sustained ${s.durationS} s: ${round(s.load.rps, 0)} req/s, p99 ${s.load.latencyMs.p99} ms, max ${s.load.latencyMs.max} ms, errors ${s.load.errors}; ` +
        `last fifth / first fifth ${s.lastOverFirst}; heap after GC ${s.heapAfterGcMb.before} → ${s.heapAfterGcMb.after} MB, RSS ${s.rssMb.before} → ${s.rssMb.after} MB (max ${s.rssMb.max})`;
      log(line);
      table.push(line);
    }
    if (args.phases.has('events')) {
      const durationS = args.quick ? 10 : 30;
      log(`\n== events: ${EVENTS_RATE} messages/s for ${durationS} s, a receiver that answers at once, then one that never answers`);
      const e = await runEvents(ROOT, world, { ratePerS: EVENTS_RATE, durationS, warmupS: args.quick ? 2 : 5 });
      results.events = e;
      const [answers, hangs] = e.runs;
      const line =
        `- events at ${e.ratePerS} messages/s for ${e.durationS} s (embedded store): webhook → receiver's 2xx p50 **${answers?.eventMs?.p50} ms**, p99 **${answers?.eventMs?.p99} ms** (${answers?.events} events); ` +
        `webhook p50/p99 ${answers?.webhookMs.p50}/${answers?.webhookMs.p99} ms with the receiver answering, ${hangs?.webhookMs.p50}/${hangs?.webhookMs.p99} ms with it never answering: p99 ratio **${e.p99Ratio}** (target ≤ 1.1); ${answers?.answered}+${hangs?.answered} of ${(answers?.sent ?? 0) + (hangs?.sent ?? 0)} webhooks answered 200`;
      log(line);
      table.push(line);
    }
    if (args.phases.has('media')) {
      log('\n== media: the same traffic without media and with 10-media messages in it');
      const media = await runMedia(ROOT, world, settings);
      results.media = media;
      table.push(...mediaTable(media));
    }
    if (args.phases.has('mongo') || args.phases.has('mongo-replay')) {
      const durationS = args.quick ? 5 : 20;
      const replayOnly = !args.phases.has('mongo');
      log(replayOnly ? '\n== mongo-replay: three instances on one database, a 30 s pause, the spool replay under live traffic' : `\n== mongo: three instances on one database at ${MONGO_RATES.join(', ')} messages/s (${durationS} s each), the embedded store beside it, a spool replay`);
      const m = await runMongo(ROOT, world, { rates: MONGO_RATES, durationS, warmupS: args.quick ? 2 : 5, spool: 1000, pauseS: 30, liveRatePerS: 50, replayOnly, log });
      results.mongo = m;
      table.push('', ...mongoTable(m));
    }
    if (args.phases.has('staff')) {
      log('\n== staff pages: the list page of a clinic with 10,000 conversations, 100 open live streams, the webhook beside them');
      const s = await runStaff(ROOT, world, { conversations: 10_000, pageLoads: args.quick ? 100 : 400, streams: 100, liveMessages: args.quick ? 10 : 30, ratePerS: EVENTS_RATE, durationS: args.quick ? 5 : 10, rounds: args.quick ? 2 : 3 }, log);
      results.staff = s;
      table.push(
        `- staff pages (embedded store): list page of a clinic with ${s.conversations.toLocaleString('en-US')} conversations p50 **${s.listPageMs.p50} ms**, p95 **${s.listPageMs.p95} ms** (target ≤ 50); ` +
          `a new message reached ${s.delivered} of ${s.expected} stream deliveries (${s.streams} open streams), p50 ${s.liveMs.p50} ms, p99 **${s.liveMs.p99} ms** (target ≤ 2000); ` +
          `webhook p99 at ${EVENTS_RATE}/s over ${s.webhookRounds.withP99.length} alternated rounds ${s.webhookMs.withoutStreams.p99} ms without streams, ${s.webhookMs.withStreams.p99} ms with ${s.streams} (ratio **${s.webhookP99Ratio}**; per round without ${s.webhookRounds.withoutP99.join(', ')} ms, with ${s.webhookRounds.withP99.join(', ')} ms)`,
      );
    }
  } finally {
    await world.remove();
  }
  log(`\n== for docs/benchmarks.md\n\n${machine.date}, ${machine.nproc} CPUs (${machine.cpu}), Node ${machine.node}, commit ${machine.commit}\n\n${table.join('\n')}`);
  const file = join(ROOT, 'var', 'bench', 'latest.json');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nresults: ${file}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
