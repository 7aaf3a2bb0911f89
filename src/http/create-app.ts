import { randomUUID } from 'node:crypto';
import { METHODS } from 'node:http';
import { performance } from 'node:perf_hooks';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import Router from '@koa/router';
import type { Config } from '../config/load-config.js';
import type { StaffRouting } from '../domain.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { systemErrorText } from '../rules/reply.js';
import { WEBHOOK_DEADLINE_MS } from '../service/handle-message.js';
import type { LiveConfig } from '../service/live-config.js';
import type { ReadinessReport } from '../lifecycle.js';
import type { Store } from '../store/store.js';
import { selectTokens } from '../twilio/select-tokens.js';
import { verifyTwilioSignature } from '../twilio/verify-signature.js';
import { answerMessage, normalizeMessage } from './answer-message.js';
import { spoolWhenStoreUnavailable, type SpoolSink } from './deadline.js';
import { errorMiddleware } from './error-middleware.js';
import { readForm, refuseEncodedBody, requireForm } from './form-body.js';
import { webhookState } from './webhook-state.js';
import { onlyTrustedProxyHeaders, trustedProxyCheck } from './proxy-trust.js';

export const WEBHOOK_PATH = '/v1/clinic/webhooks/twilio/sms';

export type { SpoolSink } from './deadline.js';

export interface AppDeps {
  config: Readonly<Config>;
  live: LiveConfig;
  store: Store;
  /** Where the pipeline puts messages for staff (the conversations feature implements it). */
  staff: StaffRouting;
  logger: Logger;
  metrics: Metrics;
  clock?: () => Date;
  readiness: () => Promise<ReadinessReport>;
  spool?: SpoolSink;
  /** True while an opt-out from the number waits in the outage spool (service/consent-hold.ts). */
  held?: (clinicId: string, phone: string) => boolean;
  /** Counts requests in flight (graceful shutdown waits for them). */
  inFlight?: { enter(): void; leave(): void };
  /** How long the pipeline may run before the message is spooled and the system-error reply sent, ms. */
  pipelineDeadlineMs?: number;
  /** Feature routers (the staff API, media), mounted inside the request context and the error middleware. */
  routers?: readonly Router[];
}

/**
 * The webhook must answer within 5 s when the database cannot be reached. A database that
 * is down fails fast (server selection, 2.5 s), but one that hangs holds a query until the
 * socket timeout (5 s) and the driver then retries: past this deadline the message is
 * treated as "store unavailable", spooled, and answered; the first delivery's decision is
 * kept in its record so every repeat answers the same (service/answer-in-time.ts).
 */
export const PIPELINE_DEADLINE_MS = WEBHOOK_DEADLINE_MS;

const REQUEST_ID = /^[\w.:-]{1,100}$/;

/** Takes the request's config snapshot once: its tokens, clinics and rules all come from it. */
function pinSnapshot(live: LiveConfig): Middleware {
  return async function pinSnapshot(ctx: Context, next: Next): Promise<void> {
    webhookState(ctx).snapshot = live.snapshot();
    await next();
  };
}

/**
 * Builds the Koa app. Only main.ts listens; tests use app.callback().
 * @param deps - everything the routes need, already constructed
 */
export function createApp(deps: AppDeps): Koa {
  const clock = deps.clock ?? ((): Date => new Date());
  // TRUST_PROXY trusts one proxy: ctx.ip is the last X-Forwarded-For entry, the one that proxy
  // wrote; the entries before it are whatever the client sent (the failed-key limit keys on it).
  const app = new Koa({ proxy: deps.config.trustProxy, maxIpsCount: 1 });
  // TRUST_PROXY as a list: the forwarded headers count only from those proxies (first, before anything reads them).
  const trusted = deps.config.trustProxy ? trustedProxyCheck(deps.config.trustedProxies) : null;
  if (trusted) {
    app.use(onlyTrustedProxyHeaders(trusted));
  }
  // Every method node's parser accepts counts as implemented, so one a route lacks (PROPFIND,
  // TRACE, ...) gets 405 with Allow from allowedMethods(), not the router's default 501.
  const router = new Router({ methods: [...METHODS] });

  app.on('error', (err: unknown, ctx?: Context) => {
    const e = err as { code?: string; message?: string; cause?: { code?: unknown; message?: string } };
    // Messages of our own errors carry no PHI; causes from drivers may, so only their code is logged.
    deps.logger.error(
      { err: { code: e.code, msg: e.message, causeCode: e.cause?.code }, requestId: (ctx ? webhookState(ctx).requestId : undefined) },
      'request failed',
    );
  });

  app.use(async function requestContext(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    // Our own id, always: a client's id could be copied or reused. Theirs is kept beside it.
    const given = ctx.get('X-Request-Id');
    const requestId = randomUUID();
    const state = webhookState(ctx);
    state.requestId = requestId;
    if (given !== '') {
      state.clientRequestId = given.slice(0, 100);
    }
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
            ...(state.clientRequestId !== undefined && REQUEST_ID.test(state.clientRequestId) ? { clientRequestId: state.clientRequestId } : {}),
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
  for (const feature of deps.routers ?? []) {
    const routes = feature.routes();
    // The webhook is no feature's route: Twilio's requests skip their route matching, which
    // cost 2.4% of the service's CPU per webhook in the compare phase's profile.
    const featureRoutes = (ctx: Context, next: Next): Promise<unknown> => (ctx.path === WEBHOOK_PATH ? next() : routes(ctx as Parameters<typeof routes>[0], next));
    // As routes() does, the middleware names its router (tools list the routes served from it).
    app.use(Object.assign(featureRoutes, { router: feature }));
  }

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

  router.post(
    WEBHOOK_PATH,
    refuseEncodedBody(),
    requireForm(),
    readForm(deps.config.bodyLimitBytes),
    pinSnapshot(deps.live),
    verifyTwilioSignature<Context>({
      enabled: deps.config.signatureValidation,
      publicBaseUrl: deps.config.publicBaseUrl,
      tokensFor: (form, ctx) => selectTokens(webhookState(ctx).snapshot ?? deps.live.snapshot(), form),
      onRefused: (reason) => deps.metrics.signatureFailures.inc({ reason }),
    }),
    normalizeMessage({ clock, systemErrorText }),
    spoolWhenStoreUnavailable(deps.spool),
    answerMessage({
      store: deps.store,
      staff: deps.staff,
      logger: deps.logger,
      metrics: deps.metrics,
      clock,
      deadlineMs: deps.pipelineDeadlineMs ?? PIPELINE_DEADLINE_MS,
      ...(deps.held ? { held: deps.held } : {}),
    }),
  );

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
