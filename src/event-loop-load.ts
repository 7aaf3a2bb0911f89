import { performance } from 'node:perf_hooks';

/**
 * Whether this process's event loop has been busy lately: its utilisation (the share of
 * time it ran callbacks rather than waited) over the last `windowMs` or more, above
 * `threshold`. Background loops that share the process with the webhook ask it, so that
 * they take what the webhook leaves instead of an equal turn.
 * @param threshold - utilisation from 0 to 1 counted as busy
 * @param windowMs - the shortest span measured; asked more often, the last answer stands
 */
export function eventLoopBusy(threshold = 0.5, windowMs = 100): () => boolean {
  let mark = performance.eventLoopUtilization();
  let busy = false;
  return () => {
    const since = performance.eventLoopUtilization(mark);
    if (since.idle + since.active >= windowMs) {
      busy = since.utilization > threshold;
      mark = performance.eventLoopUtilization();
    }
    return busy;
  };
}
