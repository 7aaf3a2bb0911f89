import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { Context } from 'koa';
import { ASSETS } from './paths.js';

/** The folder of the project's own browser files (public/staff), found from this module in src/ or dist/src/. */
export function publicDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    try {
      readFileSync(join(dir, 'package.json'));
      return join(dir, 'public', 'staff');
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('staff pages: public/staff not found above src/staff');
}

interface Asset {
  body: Buffer;
  type: string;
}

/**
 * The pages' static files: htmx and its SSE extension from their npm packages (no CDN),
 * and the project's staff.js and staff.css. Read once at start; no PHI, so cached a while.
 */
export function loadAssets(dir = publicDir()): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const js = 'text/javascript; charset=utf-8';
  return new Map<string, Asset>([
    ['htmx.min.js', { body: readFileSync(require.resolve('htmx.org/dist/htmx.min.js')), type: js }],
    ['sse.js', { body: readFileSync(require.resolve('htmx-ext-sse/dist/sse.js')), type: js }],
    ['staff.js', { body: readFileSync(join(dir, 'staff.js')), type: js }],
    ['staff.css', { body: readFileSync(join(dir, 'staff.css')), type: 'text/css; charset=utf-8' }],
  ]);
}

/** GET /staff/assets/{name}. */
export function assetRoutes(assets: Map<string, Asset>): Router {
  const router = new Router();
  router.get(`${ASSETS}/:name`, function staffAsset(ctx: Context): void {
    const asset = assets.get((ctx.params as { name: string }).name);
    if (!asset) {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'not found';
      return;
    }
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = asset.body;
  });
  return router;
}
