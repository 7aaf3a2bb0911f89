import type { FieldLogger } from '../logger.js';
import { wants, type EventEndpoint } from '../config/event-endpoints.js';
import { envelopeOf, type OutboxEvent } from './event-types.js';
import type { Store } from '../store/store.js';
import { EPOCH, type EventDelivery, type EventOutboxStore } from './outbox-store.js';
import { eachInTurn, PollLoop } from '../poll-loop.js';
import { errorCode } from '../errors.js';

export interface RelayOptions {
  /** The messages' store: the events ride in a completion write, flagged pending until copied. */
  source: Pick<Store, 'pendingOutboxes' | 'clearOutbox'>;
  store: EventOutboxStore;
  /** The clinic's endpoints as configured now. */
  endpointsFor: (clinicId: string) => readonly EventEndpoint[];
  logger: Pick<FieldLogger, 'warn'>;
  clock?: () => Date;
  pollMs?: number;
  batch?: number;
  /** Called after deliveries were added (wakes the dispatcher). */
  onQueued?: () => void;
}

/**
 * Copies message outboxes into deliveries, one per event and endpoint that takes its
 * type, then clears the message's flag. Insert first, clear after: a crash between the
 * two copies the outbox again, and the deterministic ids turn that into duplicate keys.
 */
export class OutboxRelay {
  private readonly loop: PollLoop;
  private readonly clock: () => Date;

  constructor(private readonly options: RelayOptions) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.loop = new PollLoop(() => this.runOnce().then((n) => n > 0), options.pollMs ?? 1000, (err) => {
      options.logger.warn({ code: errorCode(err) }, 'events: relay round failed; retrying');
    });
  }

  start(): void {
    this.loop.start();
  }

  /** A message was completed with events: copy them now. */
  notify(): void {
    this.loop.notify();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Copies one batch; returns how many messages it handled. */
  async runOnce(): Promise<number> {
    const pending = await this.options.source.pendingOutboxes(this.options.batch ?? 100);
    if (pending.length === 0) {
      return 0;
    }
    const disabled = await this.options.store.disabledEndpoints();
    let added = 0;
    await eachInTurn(pending, async (outbox) => {
      const now = this.clock();
      const deliveries = outbox.events.flatMap((event) =>
        this.options
          .endpointsFor(event.clinicId)
          .filter((e) => wants(e, event.type))
          .map((e) => toDelivery(event, e, now, disabled.has(e.id))),
      );
      if (deliveries.length > 0) {
        added += await this.options.store.addDeliveries(deliveries);
      }
      await this.options.source.clearOutbox(outbox.messageSid);
    });
    if (added > 0) {
      this.options.onQueued?.();
    }
    return pending.length;
  }
}

/**
 * The delivery of one event to one endpoint, due at once (or failed at once when the
 * endpoint was disabled by a 410).
 */
export function toDelivery(event: OutboxEvent, endpoint: EventEndpoint, now: Date, disabled = false): EventDelivery {
  const delivery: EventDelivery = {
    id: `${event.id}.${endpoint.id}`,
    eventId: event.id,
    clinicId: event.clinicId,
    type: event.type,
    endpointId: endpoint.id,
    url: endpoint.url,
    envelope: envelopeOf(event),
    messageSid: event.messageSid,
    receivedAt: event.receivedAt,
    createdAt: now,
    status: disabled ? 'failed' : 'pending',
    attempts: 0,
    nextAttemptAt: now,
    lockedUntil: EPOCH,
  };
  if (disabled) {
    delivery.lastError = 'endpoint disabled (410 Gone)';
  }
  return delivery;
}
