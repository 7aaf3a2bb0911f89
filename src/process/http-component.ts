import type { Server } from 'node:http';
import type { Config } from '../config/load-config.js';
import { listeningOrigin } from '../conversations/status-callback-url.js';
import { loadSeed } from '../import/seed.js';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { Snapshot } from '../service/live-config.js';
import type { Backend } from '../store/backend.js';
import { drainServer, trackConnections, type InFlight, type ShutdownReport } from './shutdown.js';

/**
 * The HTTP server as a component: it listens at start (unless a test drives `app.callback()`),
 * logs the start line, and drains at stop (its report goes into the shutdown's).
 * @param options - the server, config, logger, what the start line says, the requests in flight
 */
export function httpComponent(options: {
  server: Server;
  config: Readonly<Config>;
  logger: Logger;
  fields: Record<string, unknown>;
  inFlight: InFlight;
  report: Partial<ShutdownReport>;
  listen: boolean;
  /** Told the origin it listens on (replies' StatusCallback in development). */
  onListening(origin: string | null): void;
}): Component {
  const { server, config, logger, inFlight, report } = options;
  const connections = trackConnections(server);
  return {
    name: 'http',
    start: async () => {
      if (options.listen) {
        await listen(server, config, logger, options.fields);
        options.onListening(listeningOrigin(server.address()));
      }
    },
    stop: async (budgetMs) => void Object.assign(report, await drainServer({ server, connections, inFlight, graceMs: budgetMs, logger })),
  };
}

/** Listens on PORT/HOST and logs where. */
async function listen(server: Server, config: Readonly<Config>, logger: Logger, fields: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  logger.info({ pid: process.pid, address: typeof address === 'object' && address ? `${address.address}:${address.port}` : address, ...fields }, 'listening');
}

/**
 * The start's warnings, and the embedded store's seed.
 * @param config - the configuration
 * @param backend - the embedded one is seeded from SEED_FILE
 * @param logger - where the warnings go
 * @param snapshot - the clinics the seed's rows must belong to
 */
export async function seedAndWarn(config: Readonly<Config>, backend: Backend, logger: Logger, snapshot: Snapshot): Promise<void> {
  if (backend.kind === 'memory' && config.seedFile) {
    const summary = await loadSeed(backend.store, config.seedFile, snapshot.clinics);
    logger.info({ seedFile: config.seedFile, ...summary }, 'embedded store seeded');
  }
  if (backend.kind === 'memory') {
    logger.warn(
      { maxMessages: config.memoryStoreMaxMessages },
      'using the embedded store: nothing is kept across restarts, and only the newest MEMORY_STORE_MAX_MESSAGES finished messages (set MONGODB_URI for production)',
    );
  }
  if (config.devToken) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: using the local development token (refused in production)');
  }
  if (!config.signatureValidation) {
    logger.warn('TWILIO_SIGNATURE_VALIDATION=off: anyone can post to the webhook; for local trials only');
  }
}
