import { pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import { loadConfig, type Config } from './config/load-config.js';
import { formatFindings, isAppError } from './errors.js';
import { createApp } from './http/create-app.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { buildSnapshot } from './service/build-snapshot.js';
import { LiveConfig } from './service/live-config.js';
import { createReadiness } from './service/readiness.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { loadSeed } from './store/seed.js';

export interface RunningService {
  server: Server;
  config: Readonly<Config>;
  store: Store;
  live: LiveConfig;
  logger: Logger;
  metrics: Metrics;
  /** Stops accepting, waits for requests in flight, closes the store. */
  stop(): Promise<void>;
}

/**
 * The composition root: config -> store -> clinics and rules -> app -> listen.
 * @param env - the environment (process.env in production)
 */
export async function startService(env: Record<string, string | undefined>): Promise<RunningService> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  const metrics = createMetrics({ defaults: true });
  const snapshot = await buildSnapshot(config, env);
  const live = new LiveConfig(snapshot);
  const store = await openStore({ mongodbUri: config.mongodbUri, logger });
  if (store.kind === 'memory' && config.seedFile) {
    const summary = await loadSeed(store, config.seedFile, snapshot.clinics);
    logger.info({ seedFile: config.seedFile, ...summary }, 'embedded store seeded');
  }
  if (store.kind === 'memory') {
    logger.warn('using the embedded store: nothing is kept across restarts (set MONGODB_URI for production)');
  }
  if (config.devToken) {
    logger.warn('TWILIO_AUTH_TOKEN is not set: using the local development token (refused in production)');
  }
  if (!config.signatureValidation) {
    logger.warn('TWILIO_SIGNATURE_VALIDATION=off: anyone can post to the webhook; for local trials only');
  }
  let inFlight = 0;
  const app = createApp({
    config,
    live,
    store,
    logger,
    metrics,
    readiness: createReadiness({ store, live, metrics }),
    inFlight: { enter: () => (inFlight += 1), leave: () => (inFlight -= 1) },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  logger.info({ address: typeof address === 'object' && address ? `${address.address}:${address.port}` : address, store: store.kind, clinics: snapshot.clinics.clinics.length }, 'listening');
  return {
    server,
    config,
    store,
    live,
    logger,
    metrics,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      void inFlight;
    },
  };
}

async function main(): Promise<void> {
  try {
    const service = await startService(process.env);
    const shutdown = (signal: string): void => {
      service.logger.info({ signal }, 'shutting down');
      service.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    if (isAppError(err)) {
      process.stderr.write(`clinic-sms: ${err.message}\n${err.findings.length > 0 ? `${formatFindings(err.findings)}\n` : ''}`);
    } else {
      process.stderr.write(`clinic-sms: ${(err as Error).stack ?? String(err)}\n`);
    }
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main();
}
