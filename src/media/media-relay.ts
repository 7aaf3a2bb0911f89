import type { Clinic, MessageRecord } from '../domain.js';
import type { FieldLogger } from '../logger.js';
import type { Store } from '../store/store.js';
import { EPOCH, type MediaRecord, type MediaStore } from './media-store.js';
import { eachInTurn, PollLoop } from '../poll-loop.js';
import { checkMediaUrl, type UrlPolicy } from './url-policy.js';
import { errorCode } from '../errors.js';

/** Twilio sends at most 10 media a message; anything past that is not looked at. */
export const MAX_MEDIA_PER_MESSAGE = 10;
const MAX_KEPT_URL = 2048;

/**
 * The media records of one message: a pending fetch for each URL the policy allows, a
 * refused record (never fetched) for each it does not. A URL must also name this very
 * message and its account: a media URL copied from another message is refused.
 * @param message - the claimed record (clinicId known)
 * @param clinic - its clinic (null: no longer configured)
 * @param policy - the URL policy
 * @param now - creation time; pending fetches are due at once
 */
export function mediaRecordsFor(message: MessageRecord, clinic: Clinic | null, policy: UrlPolicy, now: Date): MediaRecord[] {
  const clinicId = message.clinicId ?? '';
  return message.message.media.slice(0, MAX_MEDIA_PER_MESSAGE).map((item, index) => {
    const base: MediaRecord = {
      id: `${message.messageSid}-${index}`,
      clinicId,
      messageSid: message.messageSid,
      index,
      url: item.url.slice(0, MAX_KEPT_URL),
      declaredType: item.contentType.slice(0, 200),
      receivedAt: message.receivedAt,
      createdAt: now,
      state: 'pending',
      work: 'fetch',
      attempts: 0,
      nextAttemptAt: now,
      lockedUntil: EPOCH,
    };
    if (message.message.accountSid !== undefined) {
      base.accountSid = message.message.accountSid;
    }
    const refuse = (reason: string): MediaRecord => ({ ...base, state: 'refused', work: 'none', reason });
    if (!clinic) {
      return { ...base, state: 'failed', work: 'none', reason: 'clinic no longer configured' };
    }
    const checked = checkMediaUrl(item.url, policy);
    if (!checked.ok) {
      return refuse(checked.reason);
    }
    if (checked.media.messageSid !== message.messageSid) {
      return refuse('URL names another message');
    }
    const account = message.message.accountSid ?? clinic.accountSid;
    if (account !== undefined && checked.media.accountSid !== account) {
      return refuse('URL names another account');
    }
    return base;
  });
}

export interface MediaRelayOptions {
  store: Store;
  media: MediaStore;
  clinic: (id: string) => Clinic | undefined;
  policy: UrlPolicy;
  logger: Pick<FieldLogger, 'warn'>;
  clock?: () => Date;
  pollMs?: number;
  batch?: number;
  /** Called after records were added (wakes the worker). */
  onQueued?: () => void;
}

/**
 * Turns messages claimed with media into media records, then clears the message's
 * flag. Add first, clear after: a crash between the two adds the same records again,
 * and their deterministic ids make that a no-op.
 */
export class MediaRelay {
  private readonly loop: PollLoop;
  private readonly clock: () => Date;

  constructor(private readonly options: MediaRelayOptions) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.loop = new PollLoop(() => this.runOnce().then((n) => n > 0), options.pollMs ?? 1000, (err) => {
      options.logger.warn({ code: errorCode(err) }, 'media: relay round failed; retrying');
    });
  }

  start(): void {
    this.loop.start();
  }

  notify(): void {
    this.loop.notify();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Handles one batch; returns how many messages it took. */
  async runOnce(): Promise<number> {
    const pending = await this.options.store.pendingMedia(this.options.batch ?? 100);
    let added = 0;
    await eachInTurn(pending, async (message) => {
      const clinic = message.clinicId === null ? null : (this.options.clinic(message.clinicId) ?? null);
      added += await this.options.media.addMedia(mediaRecordsFor(message, clinic, this.options.policy, this.clock()));
      await this.options.store.clearMediaPending(message.messageSid);
    });
    if (added > 0) {
      this.options.onQueued?.();
    }
    return pending.length;
  }
}
