import type { Config } from '../config/load-config.js';
import type { SpoolSink } from '../http/create-app.js';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ConsentHold, holdSpooledOptOuts, spoolWithConsent } from '../service/consent-hold.js';
import type { LiveConfig } from '../service/live-config.js';
import { SpoolReplayer, type ReplayHandler } from '../spool/replayer.js';
import { Spool } from '../spool/spool.js';
import type { Store } from '../store/store.js';
import { flushSpool, type ShutdownReport } from './shutdown.js';

/**
 * The outage spool at SPOOL_DIR, its replayer, the sink the webhook writes to (which wakes
 * the replayer), and the replayer's component: it replays what an earlier run left and
 * whatever the next outage brings, and its stop replays what the drain spooled while the
 * store answers.
 */
export async function openSpool(
  config: Readonly<Config>,
  store: Store,
  logger: Logger,
  metrics: Metrics,
  live: LiveConfig,
  replay: ReplayHandler,
): Promise<{ spool: Spool; sink: SpoolSink; hold: ConsentHold; component(report: Partial<ShutdownReport>): Component }> {
  const spool = await Spool.open({ dir: config.spoolDir, logger, onDepth: (depth) => metrics.spoolDepth.set(depth) });
  const hold = new ConsentHold();
  await holdSpooledOptOuts(hold, await spool.list(), live.snapshot());
  const replayer = new SpoolReplayer({
    spool,
    store,
    logger,
    metrics,
    replay: async (message, receivedAt) => {
      const result = await replay(message, receivedAt);
      hold.replayed(message);
      return result;
    },
  });
  const sink = spoolWithConsent({ append: (m, at) => spool.append(m, at), notify: () => replayer.notify(), snapshot: () => live.snapshot(), hold });
  // /metrics: the spool's depth (sms_spool_depth), replays (sms_spool_replayed_total: its rate is the replay rate),
  // the oldest entry's age and the held numbers.
  metrics.spoolSource.oldestReceivedAt = () => spool.oldestReceivedAt();
  metrics.spoolSource.heldNumbers = () => hold.size();
  return {
    spool,
    sink,
    hold,
    component: (report: Partial<ShutdownReport>): Component => ({
      name: 'spool replayer',
      start: () => replayer.start(),
      stop: async () => void Object.assign(report, await flushSpool({ replayer, spool, logger })),
    }),
  };
}
