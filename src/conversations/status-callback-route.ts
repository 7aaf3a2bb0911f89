import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import { AppError } from '../errors.js';
import { apiSecurityHeaders } from '../http/api-headers.js';
import { refuseEncodedBody } from '../http/form-body.js';
import type { Logger } from '../logger.js';
import type { Snapshot } from '../service/live-config.js';
import { flatQs, type FormParams } from '../twilio/form-params.js';
import { signedUrl, signingToken } from '../twilio/verify-signature.js';
import type { ConversationService } from './conversation-service.js';
import { STATUS_CALLBACK_PATH } from './status-callback-url.js';

export interface StatusCallbackDeps {
  service: ConversationService;
  snapshot: () => Snapshot;
  signatureValidation: boolean;
  publicBaseUrl: string | null;
  /** TWILIO_ACCOUNT_SID: the account of clinics that name none. */
  defaultAccountSid: string | null;
  bodyLimitBytes: number;
  logger: Logger;
}

const SID = /^(SM|MM)[0-9a-f]{32}$/;

/**
 * Twilio's delivery-status callback for the texts staff send (`StatusCallback`), checked
 * like the inbound webhook: the token is the sending clinic's (From is the clinic number),
 * else the account's, else any of ours. The report then reaches only texts of the clinics
 * that use the token that signed it and whose account is the callback's AccountSid (with
 * signatures off, of the clinics of that account): one clinic's token cannot move another
 * clinic's statuses. Answers 204, also for SIDs that are not ours.
 * @param router - the staff router
 * @param deps - the service and what the signature check needs
 */
export function addStatusCallbackRoute(router: Router, deps: StatusCallbackDeps): void {
  const parseForm = bodyParser({
    enableTypes: ['form'],
    formLimit: `${deps.bodyLimitBytes}b`,
    qs: flatQs,
    queryString: {},
  } as unknown as bodyParser.Options);

  router.post(
    STATUS_CALLBACK_PATH,
    apiSecurityHeaders(),
    refuseEncodedBody(),
    async function requireForm(ctx: Context, next: Next): Promise<void> {
      if (!ctx.is('application/x-www-form-urlencoded')) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'expected application/x-www-form-urlencoded');
      }
      await next();
    },
    parseForm,
    async function deliveryStatus(ctx: Context): Promise<void> {
      const form = ctx.request.body as FormParams | undefined;
      if (!form || typeof form !== 'object' || !('values' in form)) {
        throw new AppError('BAD_REQUEST', 'empty form');
      }
      const value = (name: string): string => form.values[name]?.[0] ?? '';
      const snapshot = deps.snapshot();
      let token: string | null = null;
      if (deps.signatureValidation) {
        const signature = ctx.get('X-Twilio-Signature');
        if (signature === '') {
          throw new AppError('MISSING_SIGNATURE', 'missing X-Twilio-Signature');
        }
        const clinic = snapshot.clinics.byNumber.get(value('From').trim());
        const tokens = clinic ? (snapshot.tokens.get(clinic.id) ?? []) : (snapshot.tokensByAccount.get(value('AccountSid')) ?? snapshot.allTokens);
        const url = signedUrl(deps.publicBaseUrl, { originalUrl: ctx.originalUrl, host: ctx.host, protocol: ctx.protocol });
        token = signingToken(tokens, signature, url, form);
        if (token === null) {
          throw new AppError('BAD_SIGNATURE', 'invalid X-Twilio-Signature');
        }
      }
      const accountSid = value('AccountSid');
      const clinicIds = [...snapshot.clinics.byId.values()]
        .filter((c) => (c.accountSid ?? deps.defaultAccountSid) === accountSid && (token === null || (snapshot.tokens.get(c.id) ?? []).includes(token)))
        .map((c) => c.id);
      const messageSid = value('MessageSid');
      const status = value('MessageStatus');
      if (!SID.test(messageSid) || !/^[a-z_]{1,30}$/.test(status)) {
        throw new AppError('BAD_REQUEST', 'MessageSid and MessageStatus are required');
      }
      const errorCode = value('ErrorCode');
      const matched = await deps.service.deliveryReport({ messageSid, status, accountSid, clinicIds, ...(/^\d{1,10}$/.test(errorCode) ? { errorCode } : {}) });
      deps.logger.debug({ sid: messageSid, status, matched }, 'delivery status');
      ctx.status = 204;
    },
  );
}
