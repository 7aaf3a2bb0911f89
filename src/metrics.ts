import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric of one service instance, on a registry of its own (no global state). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'outcome'>;
  duration: Histogram<'outcome'>;
  signatureFailures: Counter<'reason'>;
  unknownClinic: Counter;
  rateLimited: Counter<'clinic'>;
  duplicates: Counter;
  spoolDepth: Gauge;
  spoolReplayed: Counter<'result'>;
  /** Age of the oldest spooled message, seconds, read at each scrape from `spoolSource`. */
  spoolOldestAge: Gauge;
  /** Numbers whose opt-out waits in the spool (nothing is texted to them until it is applied). */
  spoolHeldNumbers: Gauge;
  /** Where the spool gauges read from (main.ts sets it once the spool is open). */
  spoolSource: { oldestReceivedAt(): Date | null; heldNumbers(): number };
  storeUp: Gauge;
  rulesReloads: Counter<'result'>;
  rulesReloadErrors: Counter;
  rulesVersion: Gauge<'clinic' | 'version'>;
  clinicConfigBroken: Gauge<'clinic'>;
  actions: Counter<'action' | 'outcome'>;
  embeddedStoreDropped: Counter<'table'>;
  backgroundJobs: Gauge;
}

/**
 * @param options.defaults - also collect Node's process metrics (off in tests: they hold timers)
 */
export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults) {
    collectDefaultMetrics({ register: registry });
  }
  const registers = [registry];
  const spoolSource: Metrics['spoolSource'] = { oldestReceivedAt: () => null, heldNumbers: () => 0 };
  return {
    spoolSource,
    spoolOldestAge: new Gauge({
      name: 'sms_spool_oldest_age_seconds',
      help: 'How long the oldest message in the outage spool has waited (0: none)',
      registers,
      collect() {
        const oldest = spoolSource.oldestReceivedAt();
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest.getTime()) / 1000));
      },
    }),
    spoolHeldNumbers: new Gauge({
      name: 'sms_spool_held_numbers',
      help: 'Numbers whose STOP waits in the outage spool: nothing else is texted to them until it is applied',
      registers,
      collect() {
        this.set(spoolSource.heldNumbers());
      },
    }),
    registry,
    requests: new Counter({ name: 'sms_webhook_requests_total', help: 'Webhook requests by outcome', labelNames: ['outcome'], registers }),
    duration: new Histogram({
      name: 'sms_webhook_duration_seconds',
      help: 'Webhook latency by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    signatureFailures: new Counter({ name: 'sms_signature_failures_total', help: 'Requests refused by the signature check', labelNames: ['reason'], registers }),
    unknownClinic: new Counter({ name: 'sms_unknown_clinic_total', help: 'Messages to a number no clinic owns', registers }),
    rateLimited: new Counter({ name: 'sms_rate_limited_total', help: 'Messages not answered because the sender is over the rate limit', labelNames: ['clinic'], registers }),
    duplicates: new Counter({ name: 'sms_duplicate_deliveries_total', help: 'Repeated deliveries of a MessageSid', registers }),
    spoolDepth: new Gauge({ name: 'sms_spool_depth', help: 'Messages waiting in the outage spool', registers }),
    spoolReplayed: new Counter({ name: 'sms_spool_replayed_total', help: 'Spooled messages replayed, by result', labelNames: ['result'], registers }),
    storeUp: new Gauge({ name: 'sms_store_up', help: '1 when the database answered the last check', registers }),
    rulesReloads: new Counter({ name: 'rules_reloads_total', help: 'Rules and clinics reloads, by result', labelNames: ['result'], registers }),
    rulesReloadErrors: new Counter({ name: 'rules_reload_errors_total', help: 'Reloads refused because a file was invalid', registers }),
    rulesVersion: new Gauge({ name: 'rules_loaded_version', help: 'Rules version live per clinic (value 1, version as label)', labelNames: ['clinic', 'version'], registers }),
    clinicConfigBroken: new Gauge({
      name: 'sms_clinic_config_broken',
      help: 'Clinics not served because their clinics-file entry or rules are invalid (value 1 per broken clinic)',
      labelNames: ['clinic'],
      registers,
    }),
    actions: new Counter({ name: 'sms_actions_total', help: 'Actions run, by action and outcome', labelNames: ['action', 'outcome'], registers }),
    // Summed over the instances: 0 means nobody delivers events or fetches media (BACKGROUND_JOBS).
    backgroundJobs: new Gauge({ name: 'sms_background_jobs', help: '1 when this instance runs the background jobs (events, media), 0 with BACKGROUND_JOBS=off', registers }),
    embeddedStoreDropped: new Counter({
      name: 'sms_embedded_store_dropped_total',
      help: 'Finished messages the embedded store let go of to stay within MEMORY_STORE_MAX_MESSAGES',
      labelNames: ['table'],
      registers,
    }),
  };
}
