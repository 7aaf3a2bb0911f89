/**
 * The whole service, compiled, as `npm run start:prod` runs it: startService from the
 * `npm run build` output (SERVICE_MAIN, default dist/src/main.js) with this process's
 * environment. Only the public composition root is used, so the bench does not follow
 * the service's internals around.
 */
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serveParent } from './child.js';

interface ServiceMain {
  startService(env: Record<string, string | undefined>): Promise<{ server: Server; stop(): Promise<unknown> }>;
}

const main = resolve(process.env.SERVICE_MAIN ?? 'dist/src/main.js');
const { startService } = (await import(pathToFileURL(main).href)) as ServiceMain;
const service = await startService(process.env);
serveParent(service.server, () => service.stop());
