import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import type { Config } from '../config/load-config.js';
import type { InboundMessage } from '../domain.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { systemErrorText } from '../rules/evaluate.js';
import { handleMessage } from '../service/handle-message.js';
import type { LiveConfig } from '../service/live-config.js';
import type { Store } from '../store/store.js';
import { flatQs, type FormParams } from '../twilio/form-params.js';
import { toInboundMessage } from '../twilio/inbound-message.js';
import { renderTwiml } from '../twilio/twiml.js';
import { isValidSignature, signedUrl } from '../twilio/verify-signature.js';
import { errorMiddleware, type WebhookState } from './error-middleware.js';

export const WEBHOOK_PATH = '/v1/clinic/webhooks/twilio/sms';

export interface ReadinessReport {
  ready: boolean;
  reasons: string[];
  details: Record<string, unknown>;
}

/** Where messages go when the database cannot take them (the outage spool). */
export interface SpoolSink {
  append(message: InboundMessage, receivedAt: Date): Promise<void>;
}

export interface AppDeps {
  config: Readonly<Config>;
  live: LiveConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
  readiness: () => Promise<ReadinessReport>;
  spool?: SpoolSink;
  /** Counts requests in flight (graceful shutdown waits for them). */
  inFlight?: { enter(): void; leave(): void };
  /** How long the pipeline may run before the message is spooled and the system-error reply sent, ms. */
  pipelineDeadlineMs?: number;
  /** Feature routers (the staff API), mounted inside the request context and the error middleware. */
  routers?: readonly Router[];
}

/**
 * The webhook must answer within 5 s when the database cannot be reached. A database that
 * is down fails fast (server selection, 2.5 s), but one that hangs holds a query until the
 * socket timeout (5 s) and the driver then retries: past this deadline the message is
 * treated as "store unavailable", spooled, and answered. Longer than a duplicate's wait
 * for the first delivery (4 s), so a repeat is still answered with the first reply.
 */
export const PIPELINE_DEADLINE_MS = 4500;

/** Set when the webhook gave up on a message: its pipeline stops at the next step. */
interface GiveUp {
  aborted: boolean;
}

/**
 * Rejects with STORE_UNAVAILABLE when `work` is not done within `ms`, and marks `giveUp`
 * so the work stops at its next step (replay is idempotent). A plain flag and one timer:
 * an AbortController per request cost more than the rest of this function.
 */
function withDeadline<T>(work: Promise<T>, ms: number, giveUp: GiveUp): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      giveUp.aborted = true;
      reject(new AppError('STORE_UNAVAILABLE', `the message pipeline did not finish within ${ms} ms`));
    }, ms);
    // After the deadline, a late result or failure is not this request's any more (settling twice is a no-op).
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

const REQUEST_ID = /^[\w.:-]{1,100}$/;

/**
 * Builds the Koa app. Only main.ts listens; tests use app.callback().
 * @param deps - everything the routes need, already constructed
 */
export function createApp(deps: AppDeps): Koa {
  const clock = deps.clock ?? ((): Date => new Date());
  const app = new Koa({ proxy: deps.config.trustProxy });
  const router = new Router();

  app.on('error', (err: unknown, ctx?: Context) => {
    const e = err as { code?: string; message?: string; cause?: { code?: unknown; message?: string } };
    // Messages of our own errors carry no PHI; causes from drivers may, so only their code is logged.
    deps.logger.error(
      { err: { code: e.code, msg: e.message, causeCode: e.cause?.code }, requestId: (ctx?.state as WebhookState | undefined)?.requestId },
      'request failed',
    );
  });

  app.use(async function requestContext(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    const given = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    const state = ctx.state as WebhookState;
    state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    deps.inFlight?.enter();
    try {
      await next();
    } finally {
      deps.inFlight?.leave();
      const seconds = (performance.now() - started) / 1000;
      if (ctx.path === WEBHOOK_PATH) {
        const outcome = state.outcome ?? String(ctx.status);
        deps.metrics.requests.inc({ outcome });
        deps.metrics.duration.observe({ outcome }, seconds);
      }
      // The line's fields are gathered only when it is written (not at LOG_LEVEL=warn).
      if (deps.logger.isLevelEnabled('info')) {
        deps.logger.info(
          {
            requestId,
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            outcome: state.outcome,
            ...(state.message ? { clinic: state.clinicId, ...state.message } : {}),
            ms: Math.round(seconds * 100_000) / 100,
          },
          'request',
        );
      }
    }
  });
  app.use(errorMiddleware());
  deps.routers?.forEach((feature) => app.use(feature.routes()));

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const report = await deps.readiness();
    ctx.status = report.ready ? 200 : 503;
    ctx.body = report;
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  const parseForm = bodyParser({
    enableTypes: ['form'],
    formLimit: `${deps.config.bodyLimitBytes}b`,
    // co-body hands the text to this parser instead of qs: flat keys, string values, no arrays.
    qs: flatQs,
    queryString: {},
  } as unknown as bodyParser.Options);

  router.post(
    WEBHOOK_PATH,
    async function requireForm(ctx: Context, next: Next): Promise<void> {
      if (!ctx.is('application/x-www-form-urlencoded')) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'expected application/x-www-form-urlencoded');
      }
      await next();
    },
    parseForm,
    async function twilioWebhook(ctx: Context): Promise<void> {
      const state = ctx.state as WebhookState;
      const form = ctx.request.body as FormParams | undefined;
      if (!form || typeof form !== 'object' || !('values' in form)) {
        throw new AppError('BAD_REQUEST', 'empty form');
      }
      const snapshot = deps.live.snapshot();
      const to = form.values.To?.[0] ?? '';
      const clinic = snapshot.clinics.byNumber.get(to.trim());
      if (deps.config.signatureValidation) {
        const signature = ctx.get('X-Twilio-Signature');
        if (signature === '') {
          deps.metrics.signatureFailures.inc({ reason: 'missing' });
          throw new AppError('MISSING_SIGNATURE', 'missing X-Twilio-Signature');
        }
        const url = signedUrl(deps.config.publicBaseUrl, { originalUrl: ctx.originalUrl, host: ctx.host, protocol: ctx.protocol });
        // The token is the To number's clinic's; for a number no clinic owns, the account's (by AccountSid), else any of ours.
        const accountSid = form.values.AccountSid?.[0] ?? '';
        const tokens = clinic ? (snapshot.tokens.get(clinic.id) ?? []) : (snapshot.tokensByAccount.get(accountSid) ?? snapshot.allTokens);
        if (!isValidSignature(tokens, signature, url, form)) {
          deps.metrics.signatureFailures.inc({ reason: 'invalid' });
          throw new AppError('BAD_SIGNATURE', 'invalid X-Twilio-Signature');
        }
      }
      const message = toInboundMessage(form);
      state.verified = true;
      state.systemErrorText = systemErrorText(clinic ? snapshot.rules.get(clinic.id) : undefined);
      const receivedAt = clock();
      let result;
      try {
        const giveUp: GiveUp = { aborted: false };
        result = await withDeadline(
          handleMessage({ store: deps.store, logger: deps.logger, metrics: deps.metrics, clock, signal: giveUp, requestId: state.requestId }, snapshot, message, 'webhook', receivedAt),
          deps.pipelineDeadlineMs ?? PIPELINE_DEADLINE_MS,
          giveUp,
        );
      } catch (err) {
        if ((err as { code?: unknown }).code === 'STORE_UNAVAILABLE' && deps.spool) {
          await deps.spool.append(message, receivedAt);
          state.outcome = 'spooled';
        }
        throw err;
      }
      state.outcome = result.status;
      state.clinicId = result.clinicId;
      state.message = result.summary;
      ctx.status = 200;
      ctx.type = 'text/xml';
      ctx.body = renderTwiml(result.reply);
    },
  );

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
