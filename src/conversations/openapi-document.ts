import { WEBHOOK_PATH } from '../http/create-app.js';
import { CONVERSATION_STATUSES, DELIVERY_RANK } from './conversation.js';
import { BODY_SCHEMAS, CONVERSATIONS_PATH, STATUS_CALLBACK_PATH } from './conversation-routes.js';

export const OPENAPI_PATH = '/v1/openapi.json';
/** Served by the media feature (src/media): documented here with the rest of the staff API. */
export const MEDIA_PATH = '/v1/clinics/:clinicId/media/:mediaId';

type Json = Record<string, unknown>;

/** A Koa route pattern as an OpenAPI path: `:clinicId` -> `{clinicId}`. */
export function openApiPath(route: string): string {
  return route.replace(/:([A-Za-z_]\w*)/g, '{$1}');
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const error = (description: string): Json => ({ description, content: { 'application/json': { schema: ref('Error') } } });
const TIME = { type: 'string', format: 'date-time' };
const nullable = (schema: Json): Json => ({ anyOf: [schema, { type: 'null' }] });

/** The refusals every staff API route shares. */
const STAFF_REFUSALS: Json = {
  '401': { ...error('No key, or one that matches no key in force (unknown, revoked or wrong).'), headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } } },
  '404': error("Not found. Also the answer for another clinic's resources and for a clinic that does not exist."),
  '429': {
    ...error("Too many failed key attempts from this client address (per instance); also refused with a good key until Retry-After passes. On replies also: this key sent the clinic's repliesPerKeyPerMinute this minute."),
    headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer', minimum: 1 } } },
  },
  '503': error('The access trail or the store cannot be written; nothing was shown.'),
};
const FORBIDDEN = { '403': error('The key lacks the scope this route needs.') };

const CLINIC_ID = { name: 'clinicId', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } };
const CONVERSATION_ID = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^cv_[0-9a-f]{32}$' } };

function staffOperation(operationId: string, summary: string, scope: string, extra: Json): Json {
  const { responses, ...rest } = extra as { responses: Json };
  return { operationId, summary, tags: ['staff'], security: [{ apiKey: [scope] }], ...rest, responses: { ...responses, ...STAFF_REFUSALS, ...FORBIDDEN } };
}

function write(operationId: string, summary: string, body: Json, ok: Json, more: Json = {}): Json {
  return staffOperation(operationId, summary, 'conversations:write', {
    parameters: [CLINIC_ID, CONVERSATION_ID, ...((more.parameters as Json[] | undefined) ?? [])],
    requestBody: { required: true, content: { 'application/json': { schema: body } } },
    responses: { ...ok, '400': error('The body is not valid: a short reason.'), '415': error('The body is not application/json, or comes with a Content-Encoding.'), ...((more.responses as Json | undefined) ?? {}) },
  });
}

const SCHEMAS: Json = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } }, additionalProperties: false } },
    additionalProperties: false,
  },
  Conversation: {
    type: 'object',
    required: ['id', 'phone', 'status', 'snoozedUntil', 'assignee', 'waitingSince', 'lastActivityAt', 'lastMessage', 'patients', 'createdAt', 'priority', 'priorityReason', 'possibleOptOutAt'],
    properties: {
      id: { type: 'string', pattern: '^cv_[0-9a-f]{32}$' },
      phone: { type: 'string', description: 'The sender, E.164.' },
      status: { enum: [...CONVERSATION_STATUSES], description: 'A snooze whose time has passed shows as open.' },
      snoozedUntil: nullable(TIME),
      assignee: nullable({ type: 'string' }),
      waitingSince: { ...nullable(TIME), description: 'The oldest message that reached staff and no staff reply, resolve or pending has answered.' },
      lastActivityAt: TIME,
      lastMessage: {
        type: 'object',
        required: ['direction', 'preview', 'media'],
        properties: {
          direction: { enum: ['inbound', 'outbound', 'note'] },
          preview: { type: 'string', maxLength: 100 },
          media: { type: 'integer', minimum: 0, description: 'How many photos or files came with it (a photo alone has an empty preview).' },
        },
        additionalProperties: false,
      },
      patients: {
        type: 'array',
        description: 'Patients on this phone, as display names.',
        items: { type: 'object', required: ['id', 'displayName'], properties: { id: { type: 'string' }, displayName: { type: 'string' } }, additionalProperties: false },
      },
      createdAt: TIME,
      priority: {
        enum: ['urgent', 'normal'],
        description: 'urgent: a rule routed a message with priority urgent that no staff reply, resolve or pending has answered yet. The list shows urgent conversations first.',
      },
      priorityReason: { ...nullable({ type: 'string', maxLength: 60 }), description: "The urgent rule's short reason; null when normal." },
      possibleOptOutAt: { ...nullable(TIME), description: 'When the newest message that may revoke consent in plain words ("wrong number", "leave me alone") reached staff: a possible opt-out to check. Null: none.' },
    },
    additionalProperties: false,
  },
  ConversationList: {
    type: 'object',
    required: ['conversations', 'nextCursor'],
    properties: { conversations: { type: 'array', items: ref('Conversation') }, nextCursor: { ...nullable({ type: 'string' }), description: 'Pass as cursor for the next page; null on the last.' } },
    additionalProperties: false,
  },
  Media: {
    type: 'object',
    required: ['id', 'href', 'contentType', 'state'],
    properties: {
      id: { type: 'string' },
      href: { type: 'string', description: 'GET /v1/clinics/{clinicId}/media/{mediaId}: never Twilio\'s URL.' },
      contentType: { type: 'string' },
      state: { enum: ['pending', 'stored', 'refused', 'failed'], description: 'pending: not fetched yet; stored: served by href; refused / failed: not available (see reason).' },
      reason: { type: 'string' },
    },
    additionalProperties: false,
  },
  InboundEntry: {
    type: 'object',
    required: ['type', 'id', 'at', 'text', 'media', 'handling'],
    properties: {
      type: { const: 'inbound' },
      id: { type: 'string', description: "Twilio's MessageSid." },
      at: TIME,
      text: { type: 'string' },
      media: { type: 'array', items: ref('Media') },
      handling: {
        type: 'object',
        description: 'What the service did with the message.',
        required: ['status', 'rulesFired', 'actions', 'autoReply'],
        properties: {
          status: { type: 'string' },
          rulesFired: { type: 'array', items: { type: 'string' } },
          actions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['type', 'outcome', 'rule'],
              properties: { type: { type: 'string' }, outcome: { type: 'string' }, rule: { type: 'string' }, appointmentId: { type: 'string', description: 'The appointment the action concerned.' } },
              additionalProperties: false,
            },
          },
          autoReply: nullable({ type: 'string' }),
          possibleOptOut: { const: true, description: 'The message may revoke consent in plain words: a possible opt-out for staff to check.' },
          choice: {
            type: 'object',
            description: 'A family phone\'s "which appointment?" question this message asked, answered, or came while it was pending (or the list it went to staff with).',
            required: ['action', 'askedAt', 'expiresAt', 'options'],
            properties: {
              action: { enum: ['confirm-appointment', 'cancel-appointment', 'reschedule-appointment'] },
              askedAt: TIME,
              expiresAt: TIME,
              options: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['number', 'patientId', 'firstName', 'appointmentId', 'startsAt'],
                  properties: { number: { type: 'integer' }, patientId: { type: 'string' }, firstName: { type: 'string' }, appointmentId: { type: 'string' }, startsAt: TIME },
                  additionalProperties: false,
                },
              },
            },
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
  },
  NoteEntry: {
    type: 'object',
    required: ['type', 'id', 'at', 'text', 'author', 'authorName'],
    properties: {
      type: { const: 'note' },
      id: { type: 'string' },
      at: TIME,
      text: { type: 'string' },
      author: { type: 'string', description: 'The id of the API key that wrote it, or the email of the person on the staff pages.' },
      authorName: nullable({ type: 'string' }),
    },
    additionalProperties: false,
  },
  ActivityEntry: {
    type: 'object',
    description: 'Who changed the conversation: "resolved", "assigned it to Maria", "snoozed until …" (never sent).',
    required: ['type', 'id', 'at', 'text', 'author', 'authorName'],
    properties: { type: { const: 'activity' }, id: { type: 'string' }, at: TIME, text: { type: 'string' }, author: { type: 'string' }, authorName: nullable({ type: 'string' }) },
    additionalProperties: false,
  },
  OutboundEntry: {
    type: 'object',
    required: ['type', 'id', 'at', 'text', 'author', 'authorName', 'twilioSid', 'deliveryStatus', 'deliveryErrorCode', 'deliveryHistory'],
    properties: {
      type: { const: 'outbound' },
      id: { type: 'string' },
      at: TIME,
      text: { type: 'string' },
      author: { type: 'string' },
      authorName: nullable({ type: 'string' }),
      twilioSid: nullable({ type: 'string' }),
      deliveryStatus: { enum: Object.keys(DELIVERY_RANK) },
      deliveryErrorCode: nullable({ type: 'string' }),
      deliveryHistory: {
        type: 'array',
        description: "Twilio's answer and every delivery report after it, in arrival order; a final status stays even when a later report says otherwise.",
        items: {
          type: 'object',
          required: ['status', 'at', 'errorCode'],
          properties: { status: { enum: Object.keys(DELIVERY_RANK) }, at: { type: 'string', format: 'date-time' }, errorCode: nullable({ type: 'string' }) },
          additionalProperties: false,
        },
      },
    },
    additionalProperties: false,
  },
  Thread: {
    type: 'object',
    required: ['conversation', 'entries'],
    properties: {
      conversation: ref('Conversation'),
      entries: { type: 'array', description: 'Oldest first: the newest 200 messages and 200 staff entries.', items: { oneOf: [ref('InboundEntry'), ref('NoteEntry'), ref('OutboundEntry'), ref('ActivityEntry')] } },
    },
    additionalProperties: false,
  },
  StatusChange: BODY_SCHEMAS.status,
  AssigneeChange: BODY_SCHEMAS.assignee,
  NewNote: BODY_SCHEMAS.note,
  NewConversation: BODY_SCHEMAS.start,
  NewReply: BODY_SCHEMAS.reply,
};

const TWIML = { description: 'TwiML: the reply Twilio sends the patient (or an empty Response).', content: { 'text/xml': { schema: { type: 'string' } } } };
const PLAIN = (description: string): Json => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const TWILIO_SIGNATURE = { name: 'X-Twilio-Signature', in: 'header', required: true, description: "Twilio's HMAC-SHA1 of the URL and the form parameters.", schema: { type: 'string' } };
const FORM = (description: string): Json => ({
  required: true,
  description,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } } },
});

/**
 * The OpenAPI 3.1 document of every route the service serves, written out by hand as the
 * contract it is (a test checks it against the routers, and real responses against its
 * schemas). The request-body schemas are the ones the routes validate with.
 * @param options - serverUrl: PUBLIC_BASE_URL when set
 */
export function openApiDocument(options: { serverUrl?: string | null } = {}): Json {
  const one = `${CONVERSATIONS_PATH}/:id`;
  return {
    openapi: '3.1.0',
    info: {
      title: 'clinic-sms',
      version: '1',
      description:
        "Twilio's inbound-SMS webhook for medical clinics, and the staff API a clinic's front-desk tool uses to read and answer conversations. Staff API requests need `Authorization: Bearer <key>` (keys per clinic, made with `clinic-sms keys create`); each one is recorded in the access trail.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [
      { name: 'twilio', description: 'Called by Twilio, signed with X-Twilio-Signature.' },
      { name: 'staff', description: 'The staff API: JSON, Bearer API key, scopes conversations:read and conversations:write.' },
      { name: 'operations', description: 'Health, readiness, metrics, this document.' },
    ],
    paths: {
      [WEBHOOK_PATH]: {
        post: {
          operationId: 'twilioInboundSms',
          summary: "Twilio's inbound-SMS webhook",
          tags: ['twilio'],
          parameters: [TWILIO_SIGNATURE],
          requestBody: FORM('The message as Twilio posts it (MessageSid, AccountSid, From, To, Body, NumMedia, MediaUrlN, ...).'),
          responses: {
            '200': TWIML,
            '400': PLAIN('Malformed payload or missing signature.'),
            '403': PLAIN('Bad signature.'),
            '413': PLAIN('Body too large.'),
            '415': PLAIN('Not form-encoded.'),
          },
        },
      },
      [STATUS_CALLBACK_PATH]: {
        post: {
          operationId: 'twilioStatusCallback',
          summary: "Twilio's delivery-status callback for texts staff sent",
          tags: ['twilio'],
          parameters: [TWILIO_SIGNATURE],
          requestBody: FORM('MessageSid, MessageStatus, ErrorCode, From, AccountSid, ...'),
          responses: { '204': { description: 'Taken (also for SIDs that are not ours).' }, '400': PLAIN('Malformed or missing signature.'), '403': PLAIN('Bad signature.'), '415': PLAIN('Not form-encoded.') },
        },
      },
      [openApiPath(CONVERSATIONS_PATH)]: {
        get: staffOperation('listConversations', 'Conversations, urgent first, then newest activity (or longest waiting with order=waiting)', 'conversations:read', {
          parameters: [
            CLINIC_ID,
            { name: 'status', in: 'query', schema: { enum: [...CONVERSATION_STATUSES] } },
            { name: 'assignee', in: 'query', schema: { type: 'string', minLength: 1, maxLength: 100 } },
            { name: 'q', in: 'query', description: 'Search: a phone number in any notation (7+ digits, read in the clinic\'s region), else part of a patient\'s name (any case). `phone` is not a parameter: it is refused with 400.', schema: { type: 'string', minLength: 1, maxLength: 100 } },
            { name: 'order', in: 'query', description: 'recent: newest activity first; waiting: longest waiting first (waitingSince), answered ones after. Urgent first in both.', schema: { enum: ['recent', 'waiting'], default: 'recent' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
            { name: 'cursor', in: 'query', schema: { type: 'string', maxLength: 200 } },
          ],
          responses: { '200': json(ref('ConversationList'), 'A page of conversations.'), '400': error('A bad query parameter (also `phone`: search with q).') },
        }),
        post: staffOperation('startConversation', 'Start (or find) the conversation with a phone, or with a patient of the clinic by patientId, for a call-back', 'conversations:write', {
          parameters: [CLINIC_ID],
          requestBody: { required: true, content: { 'application/json': { schema: ref('NewConversation') } } },
          responses: {
            '201': json(ref('Conversation'), 'The new conversation (open, nothing waiting).'),
            '200': json(ref('Conversation'), 'The conversation this phone already has.'),
            '400': error('The body is not valid (phone or patientId, one of them), or the phone is not a possible number.'),
            '404': error('patientId names no patient of this clinic.'),
            '409': error('OPTED_OUT: the number (the patient\'s phone) opted out of texts (the message says since when).'),
            '415': error('The body is not application/json, or comes with a Content-Encoding.'),
          },
        }),
      },
      [openApiPath(one)]: {
        get: staffOperation('getConversation', 'A conversation and its thread', 'conversations:read', {
          parameters: [CLINIC_ID, CONVERSATION_ID],
          responses: { '200': json(ref('Thread'), 'The conversation and its thread, oldest first.') },
        }),
      },
      [openApiPath(`${one}/status`)]: {
        post: write('setConversationStatus', 'Set the status (snoozedUntil only with snoozed)', ref('StatusChange'), { '200': json(ref('Conversation'), 'The conversation.') }),
      },
      [openApiPath(`${one}/assignee`)]: {
        post: write('setConversationAssignee', 'Assign (a free-text name or id) or unassign (null)', ref('AssigneeChange'), { '200': json(ref('Conversation'), 'The conversation.') }),
      },
      [openApiPath(`${one}/notes`)]: {
        post: write('addConversationNote', 'Add an internal note (never sent)', ref('NewNote'), { '201': json(ref('NoteEntry'), 'The note.') }),
      },
      [openApiPath(`${one}/replies`)]: {
        post: write(
          'replyToConversation',
          "Text the patient from the clinic's number through Twilio",
          ref('NewReply'),
          {
            '201': {
              ...json(ref('OutboundEntry'), 'The outbound entry (Twilio took the message).'),
              headers: { 'Idempotent-Replayed': { description: 'true when this is the stored answer to an earlier request with the same Idempotency-Key.', schema: { type: 'string', const: 'true' } } },
            },
          },
          {
            parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, description: '1 to 255 visible ASCII characters, per clinic: a repeat gets the first answer and Twilio gets the text once.', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' } }],
            responses: {
              '400': error("Bad body, a text field with a control character, bidirectional override or lone surrogate, or more SMS segments than the clinic's replyMaxSegments (the reason says which)."),
              '409': error(
                'OPTED_OUT: the number opted out (nothing sent); IDEMPOTENCY_CONFLICT: the key was used with another text, or its first request is still being sent (Retry-After: when its lease ends); TWILIO_NOT_CONFIGURED: the clinic has no Twilio account SID or auth token to send with (the message says which; nothing sent).',
              ),
              '502': error('Twilio did not take the message; nothing kept, retry.'),
              '504': error("TWILIO_TIMEOUT: Twilio did not answer; the reply may have gone out and is kept. Retry with the same Idempotency-Key: it is looked up in Twilio's message list and sent only if Twilio does not have it."),
            },
          },
        ),
      },
      [openApiPath(MEDIA_PATH)]: {
        get: staffOperation('getMedia', 'A media file a patient sent (streamed)', 'conversations:read', {
          description:
            'Streams the stored file with its detected type, `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox`, `Cache-Control: private, no-store`, and `Content-Disposition` inline for images, attachment otherwise. 404 while the media is not (or could not be) stored.',
          parameters: [CLINIC_ID, { name: 'mediaId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The file, streamed.',
              headers: { 'Content-Disposition': { schema: { type: 'string' } }, 'Content-Length': { schema: { type: 'integer' } } },
              content: { '*/*': { schema: { description: 'The bytes, with the type detected from them (images, PDF; an allow-list).' } } },
            },
          },
        }),
      },
      '/healthz': { get: { operationId: 'healthz', summary: 'Liveness: 200 while the process runs', tags: ['operations'], responses: { '200': json({ type: 'object', properties: { status: { const: 'ok' } } }, 'Alive.') } } },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Readiness',
          tags: ['operations'],
          responses: { '200': json(ref('Readiness'), 'Can accept and keep messages (degraded reasons listed).'), '503': json(ref('Readiness'), 'Cannot keep a message (starting, shutting down, spool unwritable).') },
        },
      },
      '/metrics': { get: { operationId: 'metrics', summary: 'Prometheus metrics', tags: ['operations'], responses: { '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      [OPENAPI_PATH]: { get: { operationId: 'openapi', summary: 'This document', tags: ['operations'], responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1.') } } },
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A staff API key (`csk.<id>.<secret>`), per clinic, with scopes conversations:read and conversations:write.' },
      },
      schemas: {
        ...SCHEMAS,
        Readiness: {
          type: 'object',
          required: ['status', 'ready', 'reasons', 'degraded', 'details'],
          properties: {
            status: { enum: ['ok', 'degraded', 'unavailable'] },
            ready: { type: 'boolean' },
            reasons: { type: 'array', items: { type: 'string' }, description: 'Why it answers 503: it cannot keep a message now.' },
            degraded: { type: 'array', items: { type: 'string' }, description: 'What is wrong while it still keeps every message.' },
            details: { type: 'object' },
          },
          additionalProperties: false,
        },
      },
    },
  };
}
