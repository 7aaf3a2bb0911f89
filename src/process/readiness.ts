import { createHash } from 'node:crypto';
import { formatFindings } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { LiveConfig } from '../service/live-config.js';
import type { Lifecycle, ReadinessCheck, ReadinessReport } from '../lifecycle.js';

export type { Lifecycle, ReadinessCheck, ReadinessCheckResult, ReadinessReport } from '../lifecycle.js';

export interface ReadinessDeps {
  store: Store;
  live: LiveConfig;
  metrics: Metrics;
  /** The outage spool: its depth, and whether a message could be written to it now (absent: no spool). */
  spool?: { depth(): number; writable(): Promise<boolean>; oldestReceivedAt?(): Date | null };
  /** Where the instance is in its life (absent: serving). */
  lifecycle?: () => Lifecycle;
  /** How long a store ping may take before the store counts as down, ms. */
  pingTimeoutMs?: number;
  /** Feature checks, run after the built-in ones. */
  checks?: readonly ReadinessCheck[];
}

/**
 * Builds the /readyz check. A database outage alone never makes the instance unready: the
 * webhook answers and spools, and a load balancer that pulled every instance at once would
 * lose the messages the spool exists to keep. Unready (503) means this instance cannot keep
 * a message: neither the database answers nor the spool is writable, start-up has not
 * finished, or it is shutting down.
 * @param deps - store, live config, metrics, spool, lifecycle, feature checks
 */
export function createReadiness(deps: ReadinessDeps): () => Promise<ReadinessReport> {
  return async function readiness(): Promise<ReadinessReport> {
    const reasons: string[] = [];
    const degraded: string[] = [];
    const details: Record<string, unknown> = {};
    const phase = deps.lifecycle?.() ?? 'serving';
    details.lifecycle = phase;
    if (phase === 'starting') {
      reasons.push('start-up has not finished');
    } else if (phase === 'stopping') {
      reasons.push('shutting down');
    }

    const storeUp = await pingStore(deps.store, deps.pingTimeoutMs ?? 2000);
    details.store = storeUp ? 'ok' : 'unreachable';
    deps.metrics.storeUp.set(storeUp ? 1 : 0);
    const depth = deps.spool?.depth() ?? 0;
    const spoolWritable = deps.spool ? await deps.spool.writable() : false;
    details.spool = deps.spool ? { depth, writable: spoolWritable } : 'none';
    details.spoolDepth = depth;
    deps.metrics.spoolDepth.set(depth);
    // How long the oldest spooled message has waited (0: none), as the events backlog's age is shown.
    const oldest = deps.spool?.oldestReceivedAt?.() ?? null;
    details.spoolOldestAgeSeconds = oldest === null ? 0 : Math.max(0, Math.round((Date.now() - oldest.getTime()) / 1000));
    if (!storeUp && !spoolWritable) {
      reasons.push(deps.spool ? 'store unreachable and spool not writable' : 'store unreachable and no spool');
    } else if (!storeUp) {
      degraded.push('store unreachable: messages go to the spool');
    } else if (deps.spool && !spoolWritable) {
      degraded.push('spool not writable: a database outage would lose messages');
    }
    if (depth > 0) {
      degraded.push(`${depth} message${depth === 1 ? '' : 's'} waiting in the spool`);
    }

    rulesDetails(deps.live, details, degraded);

    for (const c of deps.checks ?? []) {
      try {
        const result = await c.check();
        Object.assign(details, result.details ?? {});
        degraded.push(...(result.degraded ?? []));
        reasons.push(...(result.unready ?? []));
      } catch (err) {
        degraded.push(`${c.name}: check failed (${(err as Error).message})`);
      }
    }
    const ready = reasons.length === 0;
    return { status: !ready ? 'unavailable' : degraded.length > 0 ? 'degraded' : 'ok', ready, reasons, degraded, details };
  };
}

async function pingStore(store: Store, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Rules versions, the instance's rules_loaded_version, broken clinics and a refused reload. */
function rulesDetails(live: LiveConfig, details: Record<string, unknown>, degraded: string[]): void {
  const snapshot = live.snapshot();
  const versions = Object.fromEntries([...snapshot.rules].map(([id, r]) => [id, r.version]));
  details.rules = versions;
  details.rules_loaded_version = rulesLoadedVersion(versions);
  details.rulesLoadedAt = snapshot.loadedAt.toISOString();
  const broken = snapshot.broken ?? [];
  if (broken.length > 0) {
    degraded.push(`clinic${broken.length === 1 ? '' : 's'} not served (configuration invalid): ${broken.map((b) => b.name).join(', ')}`);
    details.brokenClinics = Object.fromEntries(broken.map((b) => [b.name, { part: b.part, findings: formatFindings(b.findings).split('\n') }]));
  }
  const failure = live.lastFailure();
  if (failure) {
    degraded.push('the last rules reload was refused: the last good rules stay live');
    details.rulesReloadError = { at: failure.at.toISOString(), findings: formatFindings(failure.findings).split('\n') };
  }
}

/**
 * One short digest of every clinic's rules version: equal on two instances exactly when they
 * run the same rules, so a rollout's divergence shows by comparing one value per instance.
 * @param versions - rules version by clinic id
 */
export function rulesLoadedVersion(versions: Readonly<Record<string, string>>): string {
  const text = Object.keys(versions)
    .sort()
    .map((id) => `${id}=${versions[id] ?? ''}`)
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
