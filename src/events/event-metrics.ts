import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutboxStats } from './outbox-store.js';

/** The events' metrics, on the service's registry. */
export interface EventMetrics {
  /** Deliveries by clinic, type and status (pending, delivered, failed), as the store holds them. */
  deliveries: Gauge<'clinic' | 'type' | 'status'>;
  oldestPendingAge: Gauge;
  /** From the message's arrival to the receiver's 2xx. */
  latency: Histogram<'clinic' | 'type'>;
  /** This instance's attempts by result (delivered, retry, failed, gone, lost-lease). */
  attempts: Counter<'clinic' | 'type' | 'result'>;
}

/**
 * @param registry - the service's registry (src/metrics.ts)
 * @param refresh - reads the stored state into the gauges when /metrics is scraped
 */
export function createEventMetrics(registry: Registry, refresh?: () => Promise<unknown>): EventMetrics {
  const registers = [registry];
  return {
    deliveries: new Gauge({
      name: 'sms_events',
      help: 'Event deliveries by clinic, type and status, as stored',
      labelNames: ['clinic', 'type', 'status'],
      registers,
      // A failed read leaves the last values: a scrape never fails on the database.
      ...(refresh ? { collect: async (): Promise<void> => void (await refresh().catch(() => undefined)) } : {}),
    }),
    oldestPendingAge: new Gauge({ name: 'sms_events_oldest_pending_age_seconds', help: 'Age of the oldest pending event delivery (0: none)', registers }),
    latency: new Histogram({
      name: 'sms_event_delivery_latency_seconds',
      help: "From the inbound message to the receiver's 2xx",
      labelNames: ['clinic', 'type'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400],
      registers,
    }),
    attempts: new Counter({ name: 'sms_event_attempts_total', help: 'Event delivery attempts of this instance, by result', labelNames: ['clinic', 'type', 'result'], registers }),
  };
}

/**
 * Sets the stored-state gauges from a stats read.
 * @param metrics - the events' metrics
 * @param stats - from EventOutboxStore.stats()
 * @param now - for the oldest pending age
 */
export function recordStats(metrics: EventMetrics, stats: OutboxStats, now: Date): void {
  metrics.deliveries.reset();
  for (const c of stats.counts) {
    metrics.deliveries.set({ clinic: c.clinicId, type: c.type, status: c.status }, c.count);
  }
  metrics.oldestPendingAge.set(stats.oldestPendingAt ? Math.max(0, (now.getTime() - stats.oldestPendingAt.getTime()) / 1000) : 0);
}
