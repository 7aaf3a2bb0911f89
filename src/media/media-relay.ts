import type { Clinic, MessageRecord } from '../domain.js';
import type { Store } from '../store/store.js';
import type { MediaRecord, MediaStore } from './media-store.js';
import { Relay, type RelayTiming } from '../jobs/relay.js';
import { EPOCH } from '../jobs/retry-schedule.js';
import { checkMediaUrl, type UrlPolicy } from './url-policy.js';

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

export interface MediaRelayOptions extends RelayTiming {
  store: Store;
  media: MediaStore;
  clinic: (id: string) => Clinic | undefined;
  policy: UrlPolicy;
}

/**
 * Turns messages claimed with media into media records, then clears the message's flag:
 * the jobs kit's relay (src/jobs/relay.ts) on the Store port's pending media.
 * @param options - the messages' store, the media store, the clinics live now, the URL policy
 */
export function mediaRelay(options: MediaRelayOptions): Relay<MessageRecord> {
  const clock = options.clock ?? ((): Date => new Date());
  return new Relay<MessageRecord>({
    ...options,
    name: 'media',
    pending: (limit) => options.store.pendingMedia(limit),
    toJobs(message) {
      const clinic = message.clinicId === null ? null : (options.clinic(message.clinicId) ?? null);
      return options.media.addJobs(mediaRecordsFor(message, clinic, options.policy, clock()));
    },
    clear: (message) => options.store.clearMediaPending(message.messageSid),
  });
}
