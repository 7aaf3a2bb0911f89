/**
 * `npm run bench` (full, under ~10 minutes) and `npm run bench -- --quick` (a few seconds
 * per run). Measures the service next to baselines in one run, then how it scales, and
 * writes bench/results/<latest|quick>.json and, for a full run of every phase, the
 * results section of docs/benchmarks.md. See docs/benchmarks.md for the method.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs, PHASES } from './lib/args.js';
import { BENCH_TSCONFIG, buildServers } from './lib/build.js';
import { machineInfo } from './lib/machine.js';
import { bytesKeptPerMessage } from './lib/record-size.js';
import { renderResults } from './lib/report.js';
import { checkTargets, type BenchResults } from './lib/results.js';
import { runtimeLabel, type ServerRuntime } from './lib/server-child.js';
import { round } from './lib/stats.js';
import { DEFAULT_MEMORY_MAX_MESSAGES } from '../src/store/memory/memory-store.js';
import { createWorld } from './lib/world.js';
import { runClinicsScale } from './phases/clinics-scale.js';
import { mixFor, runCompare } from './phases/compare.js';
import { runDbCommands } from './phases/db-commands.js';
import { runPatientsScale } from './phases/patients-scale.js';
import { runProfile } from './phases/profile.js';
import { runRulesScale } from './phases/rules-scale.js';
import { runSustained } from './phases/sustained.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_START = '<!-- bench:results:start -->';
const RESULTS_END = '<!-- bench:results:end -->';

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const q = args.quick;
  const settings = {
    connections: 10,
    rounds: q ? 1 : 3,
    durationS: q ? 3 : 8,
    warmupS: q ? 1 : 3,
    clinics: 4,
    patientsPerClinic: 500,
    rulesCounts: [10, 50, 200],
    rulesDurationS: q ? 3 : 6,
    rulesRounds: q ? 1 : 3,
    manyClinics: 1000,
    reloadSamples: q ? 5 : 20,
    patients: q ? 20_000 : 100_000,
    lookups: q ? 300 : 2000,
    // Each FerretDB look-up scans the collection (no index use on its SQLite backend): a few only.
    mongoLookups: q ? 10 : 12,
    sustainedS: q ? 10 : 60,
    sustainedSampleS: q ? 2 : 5,
    sustainedWarmupS: q ? 4 : 10,
    sustainedShare: 0.8,
    // FerretDB here answers ~10 req/s (see docs/benchmarks.md): too few requests in a minute to show a trend, so no sustained (d) run by default.
    mongoSustainedS: 0,
    profileS: q ? 4 : 8,
    logLevel: 'warn (one (c) variant at info)',
  };
  const mongoUri = process.env.MONGODB_URI?.trim() || undefined;
  const started = performance.now();
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const machine = machineInfo();
  log(`clinic-sms bench (${q ? 'quick' : 'full'}): ${[...args.phases].join(', ')}`);
  log(`${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, commit ${machine.commit}${machine.dirty ? ' (dirty)' : ''}`);
  let runtime: ServerRuntime = { kind: 'tsx' };
  if (args.tsx) {
    log('servers: the .ts sources under tsx (--tsx), no build');
  } else {
    const build = await buildServers(ROOT);
    runtime = build.runtime;
    log(`servers: compiled with tsc -p ${BENCH_TSCONFIG} in ${round(build.ms / 1000, 1)} s, run under node from ${relative(ROOT, build.runtime.outDir)}`);
  }
  log(mongoUri ? 'MongoDB: MONGODB_URI is set: variant (d), look-ups and command counts run on it' : 'MongoDB: MONGODB_URI is not set: (d), MongoDB look-ups and command counts are skipped');

  const results: Omit<BenchResults, 'targets'> = { mode: q ? 'quick' : 'full', machine, settings: { ...settings, runtime: runtimeLabel(runtime), mongo: mongoUri ? 'MONGODB_URI set' : 'none' }, elapsedS: 0 };
  const world = await createWorld({ clinics: settings.clinics, patientsPerClinic: settings.patientsPerClinic });
  try {
    if (args.phases.has('compare')) {
      log('\n== (a) bare Koa, (b) minimal handler, (c) full service, (d) on MongoDB');
      const variants = await runCompare({ runtime, world, mongoUri, connections: settings.connections, rounds: settings.rounds, durationS: settings.durationS, warmupS: settings.warmupS, log });
      const rps = (k: string): number => variants.find((v) => v.key === k)?.rps ?? NaN;
      const cpu = (k: string): number => variants.find((v) => v.key === k)?.cpuMicrosPerRequest ?? NaN;
      results.compare = {
        variants,
        ratios: {
          cOverB: round(rps('c') / rps('b'), 3),
          cOverA: round(rps('c') / rps('a'), 3),
          infoOverWarn: round(rps('c-info') / rps('c'), 3),
          cpuCOverB: round(cpu('c') / cpu('b'), 2),
          cpuCOverA: round(cpu('c') / cpu('a'), 2),
          ...(mongoUri ? { dOverC: round(rps('d') / rps('c'), 3) } : {}),
        },
      };
      log(`  c/b = ${results.compare.ratios.cOverB}, c/a = ${results.compare.ratios.cOverA}; server CPU per request c/b = ${results.compare.ratios.cpuCOverB}x, c/a = ${results.compare.ratios.cpuCOverA}x`);
    }
    if (args.phases.has('profile')) {
      log('\n== CPU profile of (c)');
      results.profile = await runProfile({ runtime, world, connections: settings.connections, durationS: settings.profileS, root: ROOT, log });
    }
    if (args.phases.has('rules')) {
      log('\n== rules per clinic: 10, 50, 200');
      results.rulesScale = await runRulesScale({
        runtime,
        counts: settings.rulesCounts,
        clinics: settings.clinics,
        patientsPerClinic: settings.patientsPerClinic,
        connections: settings.connections,
        rounds: settings.rulesRounds,
        durationS: settings.rulesDurationS,
        warmupS: settings.warmupS,
        log,
      });
    }
    if (args.phases.has('clinics')) {
      log(`\n== ${settings.manyClinics} clinics: start-up, memory, reload`);
      results.clinicsScale = await runClinicsScale({ runtime, clinics: settings.manyClinics, reloadSamples: settings.reloadSamples, log });
    }
    if (args.phases.has('patients')) {
      log(`\n== ${settings.patients} patients: findPatientsByPhone`);
      results.patientsScale = await runPatientsScale({ patients: settings.patients, lookups: settings.lookups, mongoLookups: settings.mongoLookups, mongoUri, log });
    }
    if (args.phases.has('commands') && mongoUri) {
      log('\n== database commands per message (MongoDB)');
      try {
        results.dbCommands = await runDbCommands({ mongoUri, log });
      } catch (err) {
        log(`  failed: ${(err as Error).message}`);
      }
    }
    if (args.phases.has('sustained')) {
      results.storeKeeps = await bytesKeptPerMessage(world, mixFor(world, 901), DEFAULT_MEMORY_MAX_MESSAGES);
      log(`  the embedded store keeps ~${results.storeKeeps.filling} B per message below its bound, ~${results.storeKeeps.atBound} B at it`);
      const cMax = results.compare?.variants.find((v) => v.key === 'c')?.rps ?? 1000;
      const rate = Math.round(cMax * settings.sustainedShare);
      log(`\n== sustained load: ${settings.sustainedS} s paced at ${rate} req/s (${settings.sustainedShare * 100}% of (c)'s ${cMax} req/s)`);
      // Warm-up lasts until the embedded store holds as many finished messages as it keeps
      // (MEMORY_STORE_MAX_MESSAGES, default), so what the minute measures is its steady state.
      const warmupS = Math.max(settings.sustainedWarmupS, Math.ceil((DEFAULT_MEMORY_MAX_MESSAGES * 1.1) / rate));
      log(`  warm-up ${warmupS} s: the embedded store fills to its ${DEFAULT_MEMORY_MAX_MESSAGES} finished messages`);
      const common = { runtime, world, durationS: settings.sustainedS, sampleEveryS: settings.sustainedSampleS, warmupS, connections: settings.connections, log };
      results.sustained = [await runSustained({ ...common, rate })];
      const dMax = results.compare?.variants.find((v) => v.key === 'd')?.rps;
      if (mongoUri && dMax && settings.mongoSustainedS > 0) {
        const { openBenchDb } = await import('./lib/mongo-db.js');
        const db = await openBenchDb(mongoUri, 'sustained', world);
        try {
          const dRate = Math.max(1, Math.round(dMax * settings.sustainedShare));
          log(`  and on MongoDB: ${settings.mongoSustainedS} s at ${dRate} req/s`);
          results.sustained.push(await runSustained({ ...common, durationS: settings.mongoSustainedS, rate: dRate, mongoUri: db.uri }));
        } finally {
          await db.drop();
        }
      }
    }
  } finally {
    await world.remove();
  }
  results.elapsedS = round((performance.now() - started) / 1000, 0);
  const full: BenchResults = { ...results, targets: checkTargets(results) };
  log('\n== targets');
  for (const t of full.targets) {
    log(`  [${t.met === null ? ' - ' : t.met ? 'met' : 'MISSED'}] ${t.target}: ${t.measured}`);
  }
  log(`\ndone in ${full.elapsedS} s`);
  if (args.write) {
    const file = join(ROOT, 'bench', 'results', q ? 'quick.json' : 'latest.json');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(full, null, 2)}\n`);
    log(`results: ${file}`);
    if (!q && PHASES.every((p) => args.phases.has(p))) {
      await writeDocs(join(ROOT, 'docs', 'benchmarks.md'), renderResults(full));
      log('docs/benchmarks.md: results section rewritten');
    }
  }
  return 0;
}

/** Replaces the generated section of docs/benchmarks.md (between the markers), keeping the prose. */
async function writeDocs(file: string, section: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = `# Benchmarks\n\n${RESULTS_START}\n${RESULTS_END}\n`;
  }
  if (text.indexOf(RESULTS_START) < 0 || text.indexOf(RESULTS_END) < text.indexOf(RESULTS_START)) {
    text = `${text.trimEnd()}\n\n${RESULTS_START}\n${RESULTS_END}\n`;
  }
  const start = text.indexOf(RESULTS_START);
  const end = text.indexOf(RESULTS_END);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${text.slice(0, start + RESULTS_START.length)}\n${section}\n${text.slice(end)}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
