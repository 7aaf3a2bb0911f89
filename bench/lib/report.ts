/** Renders bench results as the Markdown of docs/benchmarks.md (results part). */
import type { BenchResults } from './results.js';

const fmt = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined || Number.isNaN(n) ? '–' : String(Math.round(n * 10 ** digits) / 10 ** digits));

/** How the server children ran (results from before the setting existed ran under tsx). */
function runtimeOf(r: BenchResults): string {
  const runtime = typeof r.settings.runtime === 'string' ? r.settings.runtime : 'tsx';
  return runtime === 'tsx' ? 'under tsx (the .ts sources)' : `as ${runtime}`;
}

export function renderResults(r: BenchResults): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(
    `Run: ${m.date.slice(0, 16).replace('T', ' ')} UTC, \`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\` (${r.mode}, ${Math.round(r.elapsedS)} s). ` +
      `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGb} GB memory, ${m.os}; load average at start ${m.loadAverageAtStart.join(' / ')}. ` +
      `Node ${m.node}; servers ran ${runtimeOf(r)}. Commit \`${m.commit}\`${m.dirty ? ' (with uncommitted changes in the tree)' : ''}.`,
    '',
  );
  if (r.compare) {
    lines.push('### Throughput and latency, side by side', '');
    lines.push(
      `${r.settings.connections} connections, ${r.settings.rounds} rounds of ${r.settings.durationS} s per variant taken in turns (after ${r.settings.warmupS} s of warm-up each); req/s and p50/p99 are medians over the rounds, max is the largest. Servers log at LOG_LEVEL=warn except the "info" row.`,
      '',
    );
    lines.push('| variant | req/s | p50 ms | p99 ms | max ms | errors | non-2xx | requests | server CPU µs/request | RSS MB |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const v of r.compare.variants) {
      lines.push(
        `| ${v.label} | ${fmt(v.rps, 0)} | ${fmt(v.latencyMs.p50)} | ${fmt(v.latencyMs.p99)} | ${fmt(v.latencyMs.max)} | ${v.errors + v.timeouts} | ${v.non2xx} | ${v.requests} | ${fmt(v.cpuMicrosPerRequest, 0)} | ${fmt(v.rssMb, 0)} |`,
      );
    }
    const pacedRows = r.compare.variants.filter((v) => v.paced);
    if (pacedRows.length > 0) {
      const rounds = pacedRows[0]?.paced?.p99ByRound.length ?? 0;
      lines.push(
        '',
        `At the same offered load, paced evenly at ${pacedRows[0]?.paced?.rate} req/s (half of (c)'s maximum; open loop, latency from each request's scheduled send time), 10 connections, ${rounds} rounds of ${r.settings.durationS} s per variant taken in turns; req/s, p50 and p99 are medians over the rounds, max is the largest:`,
        '',
      );
      lines.push('| variant | req/s done | p50 ms | p99 ms | p99 of each round ms | max ms | errors | non-2xx |', '|---|---:|---:|---:|---|---:|---:|---:|');
      for (const v of pacedRows) {
        const p = v.paced as NonNullable<typeof v.paced>;
        lines.push(
          `| ${v.label} | ${fmt(p.rps, 0)} | ${fmt(p.latencyMs.p50)} | ${fmt(p.latencyMs.p99)} | ${p.p99ByRound.map((x) => fmt(x)).join(', ')} | ${fmt(p.latencyMs.max)} | ${p.errors} | ${p.non2xx} |`,
        );
      }
    }
    const ratios = r.compare.ratios;
    lines.push(
      '',
      `Ratios of req/s: **c/b = ${fmt(ratios.cOverB)}**, **c/a = ${fmt(ratios.cOverA)}**${ratios.dOverC !== undefined ? `, d/c = ${fmt(ratios.dOverC, 3)}` : ''}. Server CPU per request: (c) costs ${fmt(ratios.cpuCOverB, 1)}x (b) and ${fmt(ratios.cpuCOverA, 1)}x (a). Logging at info costs ${fmt((1 - ratios.infoOverWarn) * 100, 0)}% of (c)'s throughput (info/warn = ${fmt(ratios.infoOverWarn)}).`,
    );
    const c = r.compare.variants.find((v) => v.key === 'c');
    if (c?.outcomes) {
      lines.push('', `What (c) answered (from /metrics): ${Object.entries(c.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}.`);
    }
    lines.push('');
  }
  if (r.profile) {
    lines.push('### Where (c) spends its time (node --cpu-prof, self time)', '');
    lines.push('| function | where | self % |', '|---|---|---:|');
    for (const f of r.profile.top.slice(0, 15)) {
      lines.push(`| ${f.name} | ${f.where || '(native)'} | ${fmt(f.selfPct, 1)} |`);
    }
    lines.push('', `By area: ${r.profile.byArea.map((a) => `${a.area} ${fmt(a.selfPct, 1)}%`).join(', ')}.`, '');
  }
  if (r.rulesScale) {
    lines.push('### Rules per clinic', '');
    lines.push('| rules per clinic | req/s | throughput vs 10 | cost vs 10 | p50 ms | p99 ms | errors | non-2xx |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of r.rulesScale) {
      lines.push(`| ${s.rulesPerClinic} | ${fmt(s.rps, 0)} | ${fmt(s.throughputRatioTo10, 3)} | ${fmt(s.costRatioTo10, 3)} | ${fmt(s.latencyMs.p50)} | ${fmt(s.latencyMs.p99)} | ${s.errors} | ${s.non2xx} |`);
    }
    lines.push('');
  }
  if (r.clinicsScale) {
    const cs = r.clinicsScale;
    lines.push('### Many clinics', '');
    lines.push('| clinics | fork to listening ms | process start to listening ms | startService ms | RSS MB | RSS after GC MB | heap after GC MB |', '|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of [cs.baseline, cs.large]) {
      lines.push(`| ${s.clinics} | ${fmt(s.spawnToReadyMs, 0)} | ${fmt(s.processStartMs, 0)} | ${fmt(s.serviceStartMs, 0)} | ${fmt(s.rssMb, 1)} | ${fmt(s.rssAfterGcMb, 1)} | ${fmt(s.heapUsedAfterGcMb, 1)} |`);
    }
    lines.push(
      '',
      `One clinic's reload (loadClinicRules: read and parse default.yaml and the clinic's file, compile): p50 ${fmt(cs.reloadOneClinicMs.p50)} ms, max ${fmt(cs.reloadOneClinicMs.max)} ms over ${cs.reloadOneClinicMs.samples} clinics. A whole reload (reloadRules, what the watcher and SIGHUP run) of all ${cs.large.clinics} clinics: ${fmt(cs.reloadAllMs, 0)} ms (${cs.reloadAllStatus}).`,
      '',
    );
  }
  if (r.patientsScale) {
    lines.push('### Patients in the store: findPatientsByPhone and touchSender, one call at a time', '');
    lines.push('MongoDB rows: loaded with insertMany in batches of 500; FerretDB scans the collection on each look-up (see Caveats).', '');
    lines.push('| store | patients | import ms | look-ups | known p50 ms | known p99 ms | unknown p50 ms | unknown p99 ms |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const p of r.patientsScale) {
      if (p.error !== undefined) {
        lines.push(`| ${p.store} | ${p.patients} | failed: ${p.error} | | | | | |`);
        continue;
      }
      lines.push(`| ${p.store} | ${p.patients} | ${fmt(p.importMs, 0)} | ${p.lookups} | ${fmt(p.knownMs.p50, 3)} | ${fmt(p.knownMs.p99, 3)} | ${fmt(p.unknownMs.p50, 3)} | ${fmt(p.unknownMs.p99, 3)} |`);
    }
    lines.push('');
    const touched = r.patientsScale.filter((p) => p.error === undefined && p.touchKnownMs !== undefined);
    if (touched.length > 0) {
      lines.push(
        'What the hot path calls instead, touchSender (counts the message, reads the opt-out state and the patients on the phone in one step), one call at a time on the same stores. ' +
          'Known: phones with a sender document carrying its roster (MongoDB: loaded with insertMany in batches of 500, as an import leaves them). ' +
          'Unknown: the first message of a number never seen (creates its document and falls back to a `patients` find; the roster is stored in the background).',
        '',
      );
      lines.push(
        '| store | sender docs | load ms | known calls | known p50 ms | known p99 ms | known max ms | unknown calls | unknown p50 ms | unknown p99 ms | unknown max ms |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      );
      for (const p of touched) {
        const k = p.touchKnownMs;
        const u = p.touchUnknownMs;
        lines.push(
          `| ${p.store} | ${p.senders ?? '–'} | ${fmt(p.sendersImportMs, 0)} | ${p.lookups} | ${fmt(k?.p50, 3)} | ${fmt(k?.p99, 3)} | ${fmt(k?.max, 3)} | ${p.touchUnknownCalls ?? '–'} | ${fmt(u?.p50, 3)} | ${fmt(u?.p99, 3)} | ${fmt(u?.max, 3)} |`,
        );
      }
      lines.push('');
    }
    for (const p of r.patientsScale.filter((x) => x.partial !== undefined)) {
      lines.push(`Failed parts on ${p.store} (shown as –): ${p.partial}.`, '');
    }
  }
  if (r.dbCommands) {
    lines.push('### Database commands per message (MongoDB command monitoring)', '');
    lines.push('| message | sender | hot path | commands | after the reply |', '|---|---|---:|---|---|');
    for (const d of r.dbCommands) {
      lines.push(`| ${d.message} | ${d.sender} | ${d.hotPath} | ${d.commands.join(', ')} | ${d.afterReply.join(', ') || '–'} |`);
    }
    lines.push('');
  }
  if (r.sustained) {
    for (const s of r.sustained) {
      lines.push(`### Sustained: ${s.durationS} s paced at ${s.rate} req/s (${s.store === 'memory' ? 'embedded store' : 'MongoDB'})`, '');
      lines.push(
        `Done: ${fmt(s.load.rps, 0)} req/s, ${s.load.requests} requests, p50 ${fmt(s.load.latencyMs.p50)} ms, p90 ${fmt(s.load.latencyMs.p90)} ms, p99 ${fmt(s.load.latencyMs.p99)} ms, max ${fmt(s.load.latencyMs.max)} ms; errors ${s.load.errors + s.load.timeouts}, non-2xx ${s.load.non2xx}. Outcomes: ${Object.entries(s.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}.`,
        '',
      );
      lines.push('| at s | requests answered | RSS MB | heap used MB | heap after full GC MB | full GCs so far |', '|---:|---:|---:|---:|---:|---:|');
      for (const x of s.samples) {
        lines.push(`| ${fmt(x.atS, 1)} | ${x.requests} | ${fmt(x.rssMb, 1)} | ${fmt(x.heapUsedMb, 1)} | ${fmt(x.heapAfterGcMb, 1)} | ${x.fullGcs ?? '–'} |`);
      }
      lines.push(
        '',
        `Heap after GC grew ${s.heapGrowthBytesPerRequest ?? '?'} B per answered request after warm-up${s.store === 'memory' && r.storeKeeps !== undefined ? `; the embedded store keeps ~${r.storeKeeps.filling} B per message while it fills to its bound of ${r.storeKeeps.maxMessages} finished messages, and ~${r.storeKeeps.atBound} B per message once there (opt-outs of new numbers, rate counters until their window is swept; measured by running the same mix through handleMessage on a MemoryStore in the bench process)` : ''}. RSS after warm-up: ${s.rssGrowthMbAfterWarmup >= 0 ? '+' : ''}${s.rssGrowthMbAfterWarmup} MB. Full collections V8 started on its own during the run: ${s.fullGcsPerMinute ?? '?'} a minute (the first and the last sample forced one each).`,
        '',
      );
    }
  }
  lines.push('### Targets (issue 7)', '');
  lines.push('| target | measured | met |', '|---|---|---|');
  for (const t of r.targets) {
    lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? '–' : t.met ? 'yes' : '**no**'} |`);
  }
  lines.push('');
  return lines.join('\n');
}
