import type { FieldLogger } from '../logger.js';
import type { EventEndpoint } from '../config/event-endpoints.js';
import type { EventMetrics } from './event-metrics.js';
import { attemptsSinceReplay, type EventOutboxStore, type LeasedDelivery, type AttemptResult } from './outbox-store.js';
import { LeasedWorker, type LeasedWorkerTiming } from '../jobs/leased-worker.js';
import { postEvent } from './post-event.js';
import { RETRY_DELAYS_MS, attemptProblem, nextDelayMs, parseRetryAfter } from '../jobs/retry-schedule.js';
import { signEvent } from './signer.js';

/**
 * Timing (LeasedWorkerTiming): requests in flight at once (each to a different endpoint,
 * default 4), the request timeout (default 15 000 ms, the limit), the lease (default
 * timeout + 15 000 ms), the retry schedule (default RETRY_DELAYS_MS).
 */
export interface DispatcherOptions extends LeasedWorkerTiming {
  store: EventOutboxStore;
  /** The endpoint as configured now (clinics reload), by id; undefined: no longer configured. */
  endpoint: (id: string) => EventEndpoint | undefined;
  logger: Pick<FieldLogger, 'info' | 'warn' | 'error'>;
  metrics: EventMetrics;
}

/**
 * Delivers pending events: each worker leases one due delivery (one atomic
 * findOneAndUpdate, so any number of instances can share one database), signs it with
 * the endpoint's secrets, POSTs it, and writes the result back under its lease. An
 * instance that dies mid-delivery writes nothing; its lease expires and another takes
 * the delivery (at-least-once, the same webhook-id every time). An instance sends to
 * one endpoint one request at a time, so a receiver that hangs holds one worker, and
 * the other endpoints go on.
 */
export class EventDispatcher extends LeasedWorker<LeasedDelivery> {
  constructor(private readonly options: DispatcherOptions) {
    super({ ...options, name: 'events: dispatch', defaults: { concurrency: 4, timeoutMs: 15_000, leaseMarginMs: 15_000, retryDelaysMs: RETRY_DELAYS_MS } });
  }

  protected leaseNext(busyEndpoints: readonly string[]): Promise<LeasedDelivery | null> {
    return this.options.store.lease(this.clock(), this.leaseMs, busyEndpoints);
  }

  /** One request at a time per endpoint on this instance: a busy endpoint is left out of the lease. */
  protected keyOf(leased: LeasedDelivery): string {
    return leased.job.endpointId;
  }

  protected work(leased: LeasedDelivery): Promise<void> {
    return this.attempt(leased);
  }

  private async attempt(leased: LeasedDelivery): Promise<void> {
    const d = leased.job;
    const labels = { clinic: d.clinicId, type: d.type };
    const log = { eventId: d.eventId, endpointId: d.endpointId, clinic: d.clinicId, type: d.type, attempt: d.attempts + 1 };
    const endpoint = this.options.endpoint(d.endpointId);
    const disabled = endpoint ? (await this.options.store.disabledEndpoints()).has(d.endpointId) : false;
    if (!endpoint || disabled) {
      const reason = endpoint ? 'endpoint disabled (410 Gone)' : 'endpoint no longer configured';
      await this.finish(leased, { status: 'failed', attempts: d.attempts, at: this.clock(), lastError: reason }, 'failed');
      this.options.logger.warn({ ...log, reason }, 'events: delivery failed without an attempt');
      return;
    }
    const body = JSON.stringify(d.envelope);
    const sentAt = this.clock();
    const headers = signEvent(endpoint.secrets, d.eventId, sentAt, body);
    const result = await postEvent(endpoint.url, headers, body, this.timeoutMs, this.signal);
    if (this.signal.aborted) {
      return;
    }
    const at = this.clock();
    const attempts = d.attempts + 1;
    if (result.kind === 'answer' && result.status >= 200 && result.status < 300) {
      if (await this.finish(leased, { status: 'delivered', attempts, at, lastStatus: result.status }, 'delivered')) {
        this.options.metrics.latency.observe(labels, Math.max(0, at.getTime() - d.receivedAt.getTime()) / 1000);
      }
      return;
    }
    if (result.kind === 'answer' && result.status === 410) {
      const reason = 'endpoint disabled (410 Gone)';
      await this.finish(leased, { status: 'failed', attempts, at, lastStatus: 410, lastError: reason }, 'gone');
      const failed = await this.options.store.disableEndpoint(d.endpointId, at, reason);
      this.options.logger.error(
        { ...log, host: new URL(endpoint.url).host, failedPending: failed },
        'events: the receiver answered 410 Gone; endpoint disabled until `clinic-sms events replay --failed --clinic ID`',
      );
      return;
    }
    const lastError = attemptProblem(result);
    const retryAfter = result.kind === 'answer' && (result.status === 429 || result.status === 503) ? parseRetryAfter(result.retryAfter, at) : null;
    // The schedule restarts after a replay; `attempts` keeps counting the whole history.
    const scheduled = attemptsSinceReplay(d) + 1;
    const delay = scheduled >= this.delays.length ? null : (retryAfter ?? nextDelayMs(scheduled, this.delays, this.random()));
    const answer = result.kind === 'answer' ? { lastStatus: result.status } : {};
    if (delay === null) {
      await this.finish(leased, { status: 'failed', attempts, at, lastError, ...answer }, 'failed');
      this.options.logger.error({ ...log, lastError }, 'events: delivery failed after the last attempt (kept as failed)');
      return;
    }
    await this.finish(leased, { status: 'pending', attempts, at, nextAttemptAt: new Date(at.getTime() + delay), lastError, ...answer }, 'retry');
    this.options.logger.warn({ ...log, lastError, retryInMs: delay }, 'events: delivery attempt failed; will retry');
  }

  private async finish(leased: LeasedDelivery, result: AttemptResult, outcome: string): Promise<boolean> {
    const d = leased.job;
    const kept = await this.written(this.options.store.finish(leased, result), { eventId: d.eventId, endpointId: d.endpointId });
    this.options.metrics.attempts.inc({ clinic: d.clinicId, type: d.type, result: kept ? outcome : 'lost-lease' });
    return kept;
  }
}
