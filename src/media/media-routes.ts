import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { AppError } from '../errors.js';
import { isImage } from './detect-type.js';
import type { MediaStore } from './media-store.js';

/** The route pattern (recorded in the access trail, which holds no ids). */
export const MEDIA_ROUTE = '/v1/clinics/:clinicId/media/:mediaId';

const MEDIA_ID = /^MM[0-9a-fA-F]{32}-\d{1,2}$/;

/**
 * GET /v1/clinics/{clinicId}/media/{mediaId}: streams a kept media file to staff.
 * The response never lets the browser reinterpret it: the detected type, nosniff, a
 * sandbox CSP (an SVG or HTML smuggled past the checks runs no script), `attachment`
 * except for images, and no caching of PHI anywhere.
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
    const stream = await deps.media.openFile(record.file.fileId);
    if (!stream) {
      throw new AppError('NOT_FOUND', 'media not found');
    }
    const type = record.file.contentType;
    // The body first: Koa drops Content-Length when a stream is assigned.
    ctx.body = stream;
    ctx.status = 200;
    ctx.set('Content-Type', type);
    ctx.set('Content-Length', String(record.file.size));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Disposition', `${isImage(type) ? 'inline' : 'attachment'}; filename="${mediaId}"`);
    ctx.set('Content-Security-Policy', 'sandbox');
    ctx.set('Cache-Control', 'private, no-store');
  });
  return router;
}
