/** Summarizes a V8 .cpuprofile (node --cpu-prof): the functions with the most self time. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  totalMs: number;
  top: HotFunction[];
  /** Time with callees included, for functions of this project (src/). */
  inclusive: HotFunction[];
  /** Self time by package / area (node_modules/<pkg>, src/<dir>, node internals, GC, idle). */
  byArea: Array<{ area: string; selfPct: number }>;
}

/**
 * Reads a .cpuprofile and ranks functions by self time.
 * @param file - the profile
 * @param root - paths are shown relative to this
 * @param top - how many to keep
 * @param buildDir - where the profiled code was compiled to (bench/lib/build.ts), if it was:
 *   its files are shown relative to it, so var/bench-build/src/x.js reads src/x.js and
 *   falls in the same area as src/x.ts would (line numbers are those of the .js)
 */
export async function summarizeProfile(file: string, root: string, top = 20, buildDir: string | null = null): Promise<ProfileSummary> {
  const pathOf = (url: string): string => sourcePath(url, root, buildDir);
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
  const msPerHit = totalMs / totalHits;
  const byFunction = new Map<string, HotFunction>();
  const byArea = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) {
      continue;
    }
    const { functionName, url, lineNumber } = node.callFrame;
    const path = pathOf(url);
    const where = path ? `${path}:${lineNumber + 1}` : '';
    const key = `${functionName}|${where}`;
    const entry = byFunction.get(key) ?? { name: functionName || '(anonymous)', where, selfMs: 0, selfPct: 0 };
    entry.selfMs += hits * msPerHit;
    byFunction.set(key, entry);
    const area = areaOf(functionName, path);
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  // Inclusive time: each node's hits count once for every distinct function above it.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const c of node.children ?? []) {
      parent.set(c, node.id);
    }
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inclusiveHits = new Map<string, { name: string; where: string; hits: number }>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) {
      continue;
    }
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id) as ProfileNode;
      const path = pathOf(n.callFrame.url);
      if (!path.startsWith('src/')) {
        continue;
      }
      const key = `${n.callFrame.functionName}|${path}`;
      if (seen.has(key)) {
        continue;
      }
      seen.add(key);
      const e = inclusiveHits.get(key) ?? { name: n.callFrame.functionName || '(anonymous)', where: path, hits: 0 };
      e.hits += hits;
      inclusiveHits.set(key, e);
    }
  }
  const inclusive = [...inclusiveHits.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, selfMs: Math.round(e.hits * msPerHit), selfPct: Math.round((e.hits / totalHits) * 1000) / 10 }));
  const ranked = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const f of ranked) {
    f.selfPct = Math.round((f.selfMs / totalMs) * 1000) / 10;
    f.selfMs = Math.round(f.selfMs);
  }
  return {
    totalMs: Math.round(totalMs),
    top: ranked,
    inclusive,
    byArea: [...byArea.entries()]
      .map(([area, hits]) => ({ area, selfPct: Math.round((hits / totalHits) * 1000) / 10 }))
      .sort((a, b) => b.selfPct - a.selfPct)
      .slice(0, 15),
  };
}

/** A profile URL as a path relative to the root, or to the build folder for compiled files. */
function sourcePath(url: string, root: string, buildDir: string | null): string {
  if (!url.startsWith('file://')) {
    return url;
  }
  const absolute = fileURLToPath(url);
  if (buildDir !== null) {
    const inBuild = relative(buildDir, absolute);
    if (inBuild !== '..' && !inBuild.startsWith(`..${sep}`) && !isAbsolute(inBuild)) {
      return inBuild;
    }
  }
  return relative(root, absolute);
}

function areaOf(functionName: string, path: string): string {
  if (functionName === '(idle)' || functionName === '(garbage collector)' || functionName === '(program)') {
    return functionName;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) {
    return pkg[1] as string;
  }
  const src = /^(src\/[^/]+|bench)/.exec(path);
  if (src) {
    return src[1] as string;
  }
  return path.startsWith('node:') ? 'node internals' : path === '' ? '(native)' : path;
}

/**
 * The main thread's .cpuprofile in a folder: the largest one (tsx's module hooks run on a
 * thread of their own and write a small second profile).
 */
export async function mainThreadProfile(dir: string): Promise<string | null> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const sized = await Promise.all(files.map(async (f) => ({ f, size: (await stat(join(dir, f))).size })));
  sized.sort((a, b) => b.size - a.size);
  return sized[0] ? join(dir, sized[0].f) : null;
}
