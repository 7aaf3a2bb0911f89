import type { MessageRecord } from '../domain.js';

/** A media item of an inbound message as staff get it: a link to our media route, never Twilio's URL. */
export interface ThreadMedia {
  id: string;
  href: string;
  contentType: string;
  /** pending: not fetched from Twilio yet; stored: served by href; failed / rejected: not available. */
  state: 'pending' | 'stored' | 'failed' | 'rejected';
}

/**
 * The hook the media feature fills in: how a message's media appear in the thread. Until
 * it exists, every item is `pending` and its href (GET /v1/clinics/{clinicId}/media/{mediaId})
 * answers 404.
 */
export interface MediaLinks {
  linksFor(clinicId: string, records: readonly MessageRecord[]): Promise<Map<string, ThreadMedia[]>>;
}

const MEDIA_SID = /\/Media\/(ME[0-9a-fA-F]{32})$/;

/** The media id of item `index` of a message: Twilio's ME sid when its URL has one. */
export function mediaIdOf(messageSid: string, url: string, index: number): string {
  return MEDIA_SID.exec(url)?.[1] ?? `${messageSid}-${index}`;
}

/** Links every item as `pending` (no media store yet). */
export const PENDING_MEDIA_LINKS: MediaLinks = {
  async linksFor(clinicId, records) {
    const out = new Map<string, ThreadMedia[]>();
    for (const record of records) {
      out.set(
        record.messageSid,
        record.message.media.map((m, i) => {
          const id = mediaIdOf(record.messageSid, m.url, i);
          return { id, href: `/v1/clinics/${encodeURIComponent(clinicId)}/media/${encodeURIComponent(id)}`, contentType: m.contentType, state: 'pending' as const };
        }),
      );
    }
    return out;
  },
};
