import type { MessageRecord } from '../domain.js';

/** A media item of an inbound message as staff get it: a link to our media route, never Twilio's URL. */
export interface ThreadMedia {
  id: string;
  href: string;
  contentType: string;
  /** pending: not fetched from Twilio yet; stored: served by href; refused (by our checks) / failed (fetching gave up): not available, with the reason. */
  state: 'pending' | 'stored' | 'refused' | 'failed';
  reason?: string;
}

/**
 * The hook the media feature fills in: how a message's media appear in the thread. Until
 * it exists, every item is `pending` and its href (GET /v1/clinics/{clinicId}/media/{mediaId})
 * answers 404.
 */
export interface MediaLinks {
  linksFor(clinicId: string, records: readonly MessageRecord[]): Promise<Map<string, ThreadMedia[]>>;
}

/** The media id of item `index` of a message, as the media route takes it (src/media). */
export function mediaIdOf(messageSid: string, index: number): string {
  return `${messageSid}-${index}`;
}

/** Links every item as `pending` (no media feature: tests of the thread alone). */
export const PENDING_MEDIA_LINKS: MediaLinks = {
  async linksFor(clinicId, records) {
    const out = new Map<string, ThreadMedia[]>();
    for (const record of records) {
      out.set(
        record.messageSid,
        record.message.media.map((m, i) => {
          const id = mediaIdOf(record.messageSid, i);
          return { id, href: `/v1/clinics/${encodeURIComponent(clinicId)}/media/${encodeURIComponent(id)}`, contentType: m.contentType, state: 'pending' as const };
        }),
      );
    }
    return out;
  },
};
