import { mediaIdOf, type MediaLinks, type ThreadMedia } from '../conversations/media-links.js';
import type { MessageRecord } from '../domain.js';
import type { Store } from '../store/store.js';
import { mediaRelay } from './media-relay.js';
import type { Relay } from '../jobs/relay.js';
import type { MediaRecord, MediaState } from './media-store.js';
import { MediaWorker, type MediaWorkerOptions } from './media-worker.js';

/** What the conversation thread shows of one media item. */
export interface MediaView {
  id: string;
  index: number;
  state: MediaState;
  /** Why it was refused or failed. */
  reason?: string;
  /** Stored: the detected type and size. */
  contentType?: string;
  size?: number;
  /** Stored: where staff fetch it (GET, Bearer key with conversations:read). */
  href?: string;
}

/** A media record as the thread shows it (no URL, no credentials, no internal job fields). */
export function toMediaView(r: MediaRecord): MediaView {
  const view: MediaView = { id: r.id, index: r.index, state: r.state };
  if (r.reason !== undefined) {
    view.reason = r.reason;
  }
  if (r.state === 'stored' && r.file) {
    view.contentType = r.file.contentType;
    view.size = r.file.size;
    view.href = `/v1/clinics/${encodeURIComponent(r.clinicId)}/media/${encodeURIComponent(r.id)}`;
  }
  return view;
}

/** What the worker needs (the clinics live now, the URL policy, credentials, logger), and the service's store for the relay. */
export interface MediaServiceOptions extends Pick<MediaWorkerOptions, 'media' | 'clinic' | 'policy' | 'env' | 'defaultToken' | 'logger'> {
  store: Store;
  /** Tests shorten these. */
  pollMs?: number;
  worker?: Partial<Pick<MediaWorkerOptions, 'timeoutMs' | 'leaseMs' | 'retryDelaysMs' | 'maxBytes' | 'concurrency' | 'clock' | 'onSettled' | 'busy' | 'busyPauseMs'>>;
}

/**
 * The media relay and worker of one service instance, and what the thread asks of
 * media. Nothing here is on the webhook's path: the webhook only marks the claim of a
 * message with media (`mediaPending`), and background loops do the rest.
 */
export class MediaService implements MediaLinks {
  readonly worker: MediaWorker;
  private readonly relay: Relay<MessageRecord>;

  constructor(private readonly options: MediaServiceOptions) {
    this.worker = new MediaWorker({
      media: options.media,
      clinic: options.clinic,
      policy: options.policy,
      env: options.env,
      defaultToken: options.defaultToken,
      logger: options.logger,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...options.worker,
    });
    this.relay = mediaRelay({
      store: options.store,
      media: options.media,
      clinic: options.clinic,
      policy: options.policy,
      logger: options.logger,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      onQueued: () => this.worker.notify(),
    });
  }

  start(): void {
    this.relay.start();
    this.worker.start();
  }

  /** A message with media was claimed: make its jobs now (the relay also polls). */
  notify(): void {
    this.relay.notify();
  }

  /** Stops the relay, then lets the jobs in flight finish. */
  async stop(): Promise<void> {
    await this.relay.stop();
    await this.worker.stop();
  }

  /** Test hook: stop as a crashed process would (no job written back). */
  async kill(): Promise<void> {
    await this.relay.stop();
    await this.worker.kill();
  }

  /**
   * The media of these messages, for the conversation thread: by MessageSid, in index order.
   * @param clinicId - the clinic whose thread it is
   * @param messageSids - the thread's messages
   */
  async mediaForMessages(clinicId: string, messageSids: readonly string[]): Promise<Map<string, MediaView[]>> {
    const out = new Map<string, MediaView[]>();
    for (const r of await this.options.media.listForMessages(clinicId, messageSids)) {
      const list = out.get(r.messageSid) ?? [];
      list.push(toMediaView(r));
      out.set(r.messageSid, list);
    }
    return out;
  }

  /**
   * The thread's media (MediaLinks, src/conversations): each item of each message with its
   * state; an item the relay has not reached yet is `pending`.
   * @param clinicId - the clinic whose thread it is
   * @param records - the thread's inbound messages
   */
  async linksFor(clinicId: string, records: readonly MessageRecord[]): Promise<Map<string, ThreadMedia[]>> {
    const withMedia = records.filter((r) => r.message.media.length > 0);
    const kept = new Map((await this.options.media.listForMessages(clinicId, withMedia.map((r) => r.messageSid))).map((m) => [m.id, m]));
    const out = new Map<string, ThreadMedia[]>();
    for (const record of withMedia) {
      out.set(
        record.messageSid,
        record.message.media.map((item, index) => {
          const id = mediaIdOf(record.messageSid, index);
          const m = kept.get(id);
          const link: ThreadMedia = {
            id,
            href: `/v1/clinics/${encodeURIComponent(clinicId)}/media/${encodeURIComponent(id)}`,
            contentType: m?.file?.contentType ?? item.contentType,
            state: m?.state ?? 'pending',
          };
          if (m?.reason !== undefined) {
            link.reason = m.reason;
          }
          return link;
        }),
      );
    }
    return out;
  }
}
