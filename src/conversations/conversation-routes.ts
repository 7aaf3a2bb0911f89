import Router from '@koa/router';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Context, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import type { AccessLogStore } from '../auth/access-log.js';
import type { Scope } from '../auth/api-key.js';
import type { KeyRing } from '../auth/key-ring.js';
import { staffGuard, type FailedKeyAttempts, type StaffState } from '../auth/require-api-key.js';
import { AppError } from '../errors.js';
import { refuseEncodedBody } from '../http/form-body.js';
import { requireCleanText } from '../text-check.js';
import { CONVERSATION_STATUSES, LIST_ORDERS, type ConversationStatus, type ListOrder } from './conversation.js';
import type { ConversationService } from './conversation-service.js';

export const CONVERSATIONS_PATH = '/v1/clinics/:clinicId/conversations';
export { STATUS_CALLBACK_PATH } from './status-callback-url.js';

export interface StaffRoutesDeps {
  service: ConversationService;
  ring: () => KeyRing;
  accessLog: AccessLogStore;
  clock: () => Date;
  attempts?: FailedKeyAttempts;
}

const TEXT_MAX = 1600;
const NOTE_MAX = 4000;
const CONVERSATION_ID = /^cv_[0-9a-f]{32}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The JSON bodies the write routes take (also the OpenAPI document's request schemas). */
const START_PHONE = { type: 'string', minLength: 1, maxLength: 40, pattern: '\\S' } as const;
const START_PATIENT = { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' } as const;

export const BODY_SCHEMAS = {
  start: {
    type: 'object',
    description: 'Who to start a conversation with: a phone number (any notation), or a patient of the clinic by the id the practice system gave it. One of the two.',
    properties: { phone: START_PHONE, patientId: START_PATIENT },
    oneOf: [
      { properties: { phone: START_PHONE }, required: ['phone'] },
      { properties: { patientId: START_PATIENT }, required: ['patientId'] },
    ],
    additionalProperties: false,
  },
  status: {
    type: 'object',
    properties: { status: { enum: [...CONVERSATION_STATUSES] }, snoozedUntil: { type: ['string', 'null'], maxLength: 40 } },
    required: ['status'],
    additionalProperties: false,
  },
  assignee: {
    type: 'object',
    properties: { assignee: { anyOf: [{ type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' }, { type: 'null' }] } },
    required: ['assignee'],
    additionalProperties: false,
  },
  note: {
    type: 'object',
    properties: { text: { type: 'string', minLength: 1, maxLength: NOTE_MAX, pattern: '\\S' } },
    required: ['text'],
    additionalProperties: false,
  },
  reply: {
    type: 'object',
    properties: { text: { type: 'string', minLength: 1, maxLength: TEXT_MAX, pattern: '\\S' } },
    required: ['text'],
    additionalProperties: false,
  },
} as const;

/** The first problem, short: `status must be equal to one of the allowed values`. */
function reason(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) {
    return 'invalid body';
  }
  const where = e.instancePath === '' ? 'body' : e.instancePath.slice(1);
  // A body that must hold one of two fields (phone or patientId): say so, whichever way it failed.
  const oneOf = errors?.find((x) => x.keyword === 'oneOf' && x.instancePath === '');
  if (oneOf && e.instancePath === '') {
    return 'give either phone or patientId (one of them)';
  }
  if (e.keyword === 'additionalProperties') {
    return `unknown field "${String((e.params as { additionalProperty?: unknown }).additionalProperty)}"`;
  }
  if (e.keyword === 'required') {
    return `${String((e.params as { missingProperty?: unknown }).missingProperty)} is required`;
  }
  if (e.keyword === 'pattern') {
    return `${where} must not be blank`;
  }
  return `${where} ${e.message ?? 'is invalid'}`;
}

/**
 * The staff API's router: each route records its access, authenticates the key, checks
 * clinic and scope, validates its JSON body, and hands plain values to the service.
 * @param deps - the service, the key ring, the access trail
 */
export function createStaffRouter(deps: StaffRoutesDeps): Router {
  const router = new Router();
  const ajv = new Ajv({ allErrors: false, strict: true });
  const validators = Object.fromEntries(Object.entries(BODY_SCHEMAS).map(([k, s]) => [k, ajv.compile(s)])) as Record<keyof typeof BODY_SCHEMAS, ValidateFunction>;
  const refuseEncoded = refuseEncodedBody('body');
  const parseJson = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb', strict: true });
  /** The middleware every API route starts with. */
  const guard = (route: string, scope: Scope): Array<(ctx: Context, next: Next) => Promise<void>> => staffGuard(deps, route, scope);

  /** Parses and validates the JSON body against `schema`. */
  const body =
    (schema: keyof typeof BODY_SCHEMAS) =>
    async function jsonBody(ctx: Context, next: Next): Promise<void> {
      // As the webhook: a compressed body is refused on its header, never inflated.
      await refuseEncoded(ctx, async () => undefined);
      if (!ctx.is('application/json')) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'expected application/json');
      }
      await parseJson(ctx, async () => undefined);
      const validate = validators[schema];
      if (!validate(ctx.request.body)) {
        throw new AppError('BAD_REQUEST', reason(validate.errors));
      }
      // Every text field: no control characters, bidirectional overrides or broken UTF-16 reach a thread or an SMS.
      for (const [field, value] of Object.entries(ctx.request.body as Record<string, unknown>)) {
        if (typeof value === 'string') {
          requireCleanText(field, value);
        }
      }
      await next();
    };

  /** The conversation id of the URL; one that is not shaped like ours cannot exist. */
  const conversationId = (ctx: Context): string => {
    const id = (ctx.params as { id: string }).id;
    if (!CONVERSATION_ID.test(id)) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    (ctx.state as StaffState).conversationId = id;
    return id;
  };
  const clinicOf = (ctx: Context): string => (ctx.params as { clinicId: string }).clinicId;
  const keyId = (ctx: Context): string => (ctx.state as StaffState).key?.id ?? '';

  router.get(CONVERSATIONS_PATH, ...guard(CONVERSATIONS_PATH, 'conversations:read'), async function listConversations(ctx: Context): Promise<void> {
    const q = ctx.query;
    const one = (name: string): string | undefined => {
      const v = q[name];
      if (Array.isArray(v)) {
        throw new AppError('BAD_REQUEST', `${name} given more than once`);
      }
      return v;
    };
    const status = one('status');
    if (status !== undefined && !(CONVERSATION_STATUSES as readonly string[]).includes(status)) {
      throw new AppError('BAD_REQUEST', `status must be one of ${CONVERSATION_STATUSES.join(', ')}`);
    }
    const limitText = one('limit') ?? '25';
    const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= 100)) {
      throw new AppError('BAD_REQUEST', 'limit must be a whole number from 1 to 100');
    }
    const assignee = one('assignee');
    if (assignee !== undefined && (assignee === '' || assignee.length > 100)) {
      throw new AppError('BAD_REQUEST', 'assignee must be 1 to 100 characters');
    }
    if (assignee !== undefined) {
      requireCleanText('assignee', assignee);
    }
    const cursor = one('cursor');
    if (cursor !== undefined && cursor.length > 200) {
      throw new AppError('BAD_REQUEST', 'invalid cursor');
    }
    // `phone` was once read as a filter by callers, and silently ignored: refused, not ignored.
    if (q.phone !== undefined) {
      throw new AppError('BAD_REQUEST', 'phone is not a parameter: search with q (a phone number in any notation, or part of a patient name)');
    }
    const search = one('q');
    if (search !== undefined && (search.trim() === '' || search.length > 100)) {
      throw new AppError('BAD_REQUEST', 'q must be 1 to 100 characters');
    }
    if (search !== undefined) {
      requireCleanText('q', search);
    }
    const order = one('order');
    if (order !== undefined && !(LIST_ORDERS as readonly string[]).includes(order)) {
      throw new AppError('BAD_REQUEST', `order must be one of ${LIST_ORDERS.join(', ')}`);
    }
    const page = await deps.service.list(clinicOf(ctx), {
      limit,
      ...(status === undefined ? {} : { status: status as ConversationStatus }),
      ...(assignee === undefined ? {} : { assignee }),
      ...(cursor === undefined ? {} : { cursor }),
      ...(search === undefined ? {} : { q: search }),
      ...(order === undefined ? {} : { order: order as ListOrder }),
    });
    (ctx.state as StaffState).conversationIds = page.conversations.map((c) => c.id);
    ctx.body = page;
  });

  router.post(CONVERSATIONS_PATH, ...guard(CONVERSATIONS_PATH, 'conversations:write'), body('start'), async function startConversation(ctx: Context): Promise<void> {
    const { phone, patientId } = ctx.request.body as { phone?: string; patientId?: string };
    const by = { id: keyId(ctx) };
    const { conversation, created } = patientId === undefined ? await deps.service.start(clinicOf(ctx), phone ?? '', by) : await deps.service.startWithPatient(clinicOf(ctx), patientId, by);
    (ctx.state as StaffState).conversationId = conversation.id;
    ctx.status = created ? 201 : 200;
    ctx.body = conversation;
  });

  const ONE = `${CONVERSATIONS_PATH}/:id`;
  router.get(ONE, ...guard(ONE, 'conversations:read'), async function getThread(ctx: Context): Promise<void> {
    ctx.body = await deps.service.thread(clinicOf(ctx), conversationId(ctx));
  });

  router.post(`${ONE}/status`, ...guard(`${ONE}/status`, 'conversations:write'), body('status'), async function setStatus(ctx: Context): Promise<void> {
    const id = conversationId(ctx);
    const { status, snoozedUntil } = ctx.request.body as { status: ConversationStatus; snoozedUntil?: string | null };
    let until: Date | null = null;
    if (typeof snoozedUntil === 'string') {
      until = new Date(snoozedUntil);
      if (!ISO_TIME.test(snoozedUntil) || Number.isNaN(until.getTime())) {
        throw new AppError('BAD_REQUEST', 'snoozedUntil must be an ISO 8601 time with a zone, e.g. 2026-12-01T09:00:00Z');
      }
    }
    ctx.body = await deps.service.setStatus(clinicOf(ctx), id, status, until);
  });

  router.post(`${ONE}/assignee`, ...guard(`${ONE}/assignee`, 'conversations:write'), body('assignee'), async function setAssignee(ctx: Context): Promise<void> {
    const id = conversationId(ctx);
    const { assignee } = ctx.request.body as { assignee: string | null };
    ctx.body = await deps.service.setAssignee(clinicOf(ctx), id, assignee === null ? null : assignee.trim());
  });

  router.post(`${ONE}/notes`, ...guard(`${ONE}/notes`, 'conversations:write'), body('note'), async function addNote(ctx: Context): Promise<void> {
    const id = conversationId(ctx);
    const { text } = ctx.request.body as { text: string };
    ctx.status = 201;
    ctx.body = await deps.service.addNote(clinicOf(ctx), id, text, keyId(ctx));
  });

  router.post(`${ONE}/replies`, ...guard(`${ONE}/replies`, 'conversations:write'), body('reply'), async function sendReply(ctx: Context): Promise<void> {
    const id = conversationId(ctx);
    const { text } = ctx.request.body as { text: string };
    const idempotencyKey = ctx.get('Idempotency-Key');
    if (idempotencyKey !== '' && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new AppError('BAD_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    // The StatusCallback comes from configuration (the service's own), never from this request.
    const result = await deps.service.reply(clinicOf(ctx), id, text, keyId(ctx), idempotencyKey === '' ? {} : { idempotencyKey });
    (ctx.state as StaffState).committed = true;
    if (result.replayed) {
      ctx.set('Idempotent-Replayed', 'true');
    }
    ctx.status = 201;
    ctx.body = result.entry;
  });

  return router;
}
