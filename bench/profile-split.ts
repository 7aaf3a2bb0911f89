/**
 * Where a server child's CPU went, from the V8 profile `BENCH_CPU_PROF=<dir>` makes it write:
 * each sample is charged to the nearest frame of the service's own compiled code
 * (dist/src/<folder>/), so a library's time counts for the code that called it, and the
 * folders are grouped into the parts of a request. Samples with no service frame on their
 * stack are Node and Koa's own work (socket writes, HTTP parsing) or the runtime's (GC).
 *
 *   npx tsx bench/profile-split.ts /tmp/prof/CPU.*.cpuprofile
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Service folders (dist/src/<folder>/<file>) to the part of a request they do. */
const PARTS: readonly [RegExp, string][] = [
  [/^(store\/memory|conversations\/memory-|events\/memory-|media\/memory-)/, 'embedded store (copies on purpose; not production)'],
  [/^(http|twilio)\//, 'HTTP edge: body, signature, TwiML, middleware'],
  [/^rules\//, 'rules: facts, keyword index, json-rules-engine'],
  [/^(service|actions)\//, 'message pipeline: claim, count, act, complete'],
  [/^(events|conversations|media)\//, 'events, conversations, media (production code)'],
  [/^(import|config|main|cli|admin)/, 'start-up: config, rules files, seed import'],
];
const RUNTIME = new Set(['(garbage collector)', '(program)', 'runMicrotasks', '(idle)']);

/** The part of a request each sample belongs to, with its share of the active (non-idle) time. */
export function splitProfile(profile: Profile): { part: string; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  profile.nodes.forEach((n) => n.children?.forEach((c) => parent.set(c, n.id)));
  const totals = new Map<string, number>();
  let active = 0;
  profile.samples.forEach((id, i) => {
    const leaf = byId.get(id)?.callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    if (!leaf || leaf.functionName === '(idle)') {
      return;
    }
    active += dt;
    let part = RUNTIME.has(leaf.functionName) ? 'runtime: GC, microtask queue' : 'Node and Koa: HTTP parsing, socket writes';
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const folder = /\/dist\/src\/(.*)$/.exec(byId.get(cur)?.callFrame.url ?? '')?.[1];
      if (folder !== undefined) {
        part = PARTS.find(([re]) => re.test(folder))?.[1] ?? 'other service code';
        break;
      }
    }
    totals.set(part, (totals.get(part) ?? 0) + dt);
  });
  return [...totals].map(([part, t]) => ({ part, share: t / active })).sort((a, b) => b.share - a.share);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  for (const file of process.argv.slice(2)) {
    console.log(`\n${file}\n\n| part | share of CPU |\n|---|---:|`);
    for (const { part, share } of splitProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile)) {
      console.log(`| ${part} | ${(share * 100).toFixed(1)}% |`);
    }
  }
}
