import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { AppError } from '../errors.js';
import { isImage } from './detect-type.js';
import type { MediaFile, MediaStore } from './media-store.js';

/** The route pattern (recorded in the access trail, which holds no ids). */
export const MEDIA_ROUTE = '/v1/clinics/:clinicId/media/:mediaId';

/** A media id as kept: the message's SID and the item's index. */
export const MEDIA_ID = /^MM[0-9a-fA-F]{32}-\d{1,2}$/;

/**
 * Streams a kept file so the browser never reinterprets it: the detected type, nosniff, a
 * sandbox CSP (an SVG or HTML smuggled past the checks runs no script), and `attachment`
 * except for images. The staff API and the staff pages both serve media through it.
 * @param ctx - the response to fill
 * @param media - the media store
 * @param file - the stored file of the record
 * @param mediaId - the record's id (the file name offered)
 */
export async function sendMediaFile(ctx: Context, media: Pick<MediaStore, 'openFile'>, file: MediaFile, mediaId: string): Promise<void> {
  const stream = await media.openFile(file.fileId);
  if (!stream) {
    throw new AppError('NOT_FOUND', 'media not found');
  }
  // The body first: Koa drops Content-Length when a stream is assigned.
  ctx.body = stream;
  ctx.status = 200;
  ctx.set('Content-Type', file.contentType);
  ctx.set('Content-Length', String(file.size));
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Content-Disposition', `${isImage(file.contentType) ? 'inline' : 'attachment'}; filename="${mediaId}"`);
  ctx.set('Content-Security-Policy', 'sandbox');
}

/**
 * GET /v1/clinics/{clinicId}/media/{mediaId}: streams a kept media file to staff
 * (sendMediaFile), with no caching of PHI anywhere.
 * @param deps.media - the media store
 * @param deps.guard - the staff API's access trail, key and scope checks (`conversations:read`), in order
 * @param deps.conversationOf - the conversation of a clinic's message (for the access record)
 */
export function mediaRoutes(deps: { media: MediaStore; guard: readonly Middleware[]; conversationOf?: (clinicId: string, messageSid: string) => Promise<string | null> }): Router {
  const router = new Router();
  router.get(MEDIA_ROUTE, ...(deps.guard as Middleware[]), async function serveMedia(ctx: Context, _next: Next): Promise<void> {
    const { clinicId, mediaId } = ctx.params as { clinicId: string; mediaId: string };
    // For the access record: the media asked for, and (once found) its conversation.
    const state = ctx.state as { mediaId?: string; conversationId?: string };
    state.mediaId = mediaId.slice(0, 100);
    if (!MEDIA_ID.test(mediaId)) {
      throw new AppError('NOT_FOUND', 'media not found');
    }
    const record = await deps.media.get(clinicId, mediaId);
    if (!record) {
      throw new AppError('NOT_FOUND', 'media not found');
    }
    const conversationId = await deps.conversationOf?.(clinicId, record.messageSid);
    if (conversationId) {
      state.conversationId = conversationId;
    }
    if (record.state !== 'stored' || !record.file) {
      throw new AppError('NOT_FOUND', `media not available (${record.state})`);
    }
    await sendMediaFile(ctx, deps.media, record.file, mediaId);
    ctx.set('Cache-Control', 'private, no-store');
  });
  return router;
}
