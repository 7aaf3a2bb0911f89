import { formatFindings } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { LiveConfig } from './live-config.js';

/** What /readyz answers: ready or not, why not, and the details (store, rules versions, spool depth). */
export interface ReadinessReport {
  ready: boolean;
  reasons: string[];
  details: Record<string, unknown>;
}

export interface ReadinessDeps {
  store: Store;
  live: LiveConfig;
  metrics: Metrics;
  /** Messages waiting in the outage spool (0 without a spool). */
  spoolDepth?: () => number;
  /** The oldest pending event delivery's age, s: shown in the details, never a reason to be unready. */
  eventsOldestPendingAge?: () => Promise<number>;
  /** How long a store ping may take before the store counts as down, ms. */
  pingTimeoutMs?: number;
}

/**
 * Ready when the store answers and every clinic has rules loaded. A rules reload that
 * failed keeps the last good rules live, so it is reported but does not make the
 * instance unready.
 */
export function createReadiness(deps: ReadinessDeps): () => Promise<ReadinessReport> {
  return async function readiness(): Promise<ReadinessReport> {
    const reasons: string[] = [];
    const details: Record<string, unknown> = {};
    const timeout = deps.pingTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        deps.store.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), timeout);
        }),
      ]);
      details.store = 'ok';
      deps.metrics.storeUp.set(1);
    } catch {
      reasons.push('store unreachable');
      details.store = 'unreachable';
      deps.metrics.storeUp.set(0);
    } finally {
      clearTimeout(timer);
    }
    const snapshot = deps.live.snapshot();
    const missing = snapshot.clinics.clinics.filter((c) => !snapshot.rules.has(c.id)).map((c) => c.id);
    if (missing.length > 0) {
      reasons.push(`no rules loaded for: ${missing.join(', ')}`);
    }
    details.rules = Object.fromEntries([...snapshot.rules].map(([id, r]) => [id, r.version]));
    details.rulesLoadedAt = snapshot.loadedAt.toISOString();
    const failure = deps.live.lastFailure();
    if (failure) {
      details.rulesReloadError = { at: failure.at.toISOString(), findings: formatFindings(failure.findings).split('\n') };
    }
    if (deps.eventsOldestPendingAge) {
      details.eventsOldestPendingAgeSeconds = await deps.eventsOldestPendingAge().then(
        (age) => Math.round(age),
        () => 'unknown',
      );
    }
    const depth = deps.spoolDepth?.() ?? 0;
    details.spoolDepth = depth;
    deps.metrics.spoolDepth.set(depth);
    return { ready: reasons.length === 0, reasons, details };
  };
}
