import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import bodyParser from 'koa-bodyparser';
import type { VNode } from 'preact';
import type { AccessLogStore } from '../auth/access-log.js';
import { recordAccess } from '../auth/require-api-key.js';
import { CONVERSATION_STATUSES, type ConversationStatus } from '../conversations/conversation.js';
import { PATIENT_MATCHES, type ConversationService } from '../conversations/conversation-service.js';
import type { Appointment, Clinic } from '../domain.js';
import { AppError, isAppError } from '../errors.js';
import { toAppError } from '../http/error-middleware.js';
import type { MediaStore } from '../media/media-store.js';
import { MEDIA_ID, sendMediaFile } from '../media/media-routes.js';
import { formatAppointmentDate, formatAppointmentTime } from '../rules/local-time.js';
import { quickReplyText, type CompiledQuickReply } from '../rules/quick-replies.js';
import { renderTemplate, type MergeField } from '../rules/templates.js';
import type { Store } from '../store/store.js';
import { requireCleanText } from '../text-check.js';
import type { LiveHub } from './live/live-hub.js';
import { pageHeaders, requireSameOrigin } from './page-security.js';
import { paths, ROUTES, VIEWS, type InboxView, type ListState } from './paths.js';
import { displayNameOf, personOf, type PageState, type StaffPerson } from './person.js';
import { SegmentCounter, type QuickReply } from './views/composer.js';
import { ConversationList, VIEW_LABELS, type ListModel } from './views/conversation-list.js';
import { fromDatetimeLocal, localTime } from './views/format.js';
import { ClinicChooser, InboxPage, MessagePage, type InboxPageModel, type PatientPickerModel } from './views/inbox-page.js';
import { renderPage, renderPartial } from './views/layout.js';
import type { PatientCard } from './views/patient-panel.js';
import { ThreadLive, type StaffMember, type ThreadModel } from './views/thread.js';

/** A quick reply as the clinic's rules YAML defines it (`quickReplies:`), its texts parsed like reply templates. */
export type QuickReplyTemplate = Pick<CompiledQuickReply, 'shortcode' | 'texts'>;

export interface StaffPagesDeps {
  service: ConversationService;
  store: Pick<Store, 'findPatientsByPhone' | 'findNextAppointment' | 'getOptOut' | 'getAppointment'>;
  /** The clinic as configured now (null: none). */
  clinic(clinicId: string): Clinic | null;
  /** The signed-in person on ctx.state.person, or a redirect to sign in (src/staff/auth). */
  requirePerson: Middleware;
  /** The same without counting as activity: the live stream's (default requirePerson). */
  requirePersonQuietly?: Middleware;
  /** For an open stream: whether its session still stands, asked every heartbeat. */
  streamCheck?(ctx: Context, clinicId: string): () => Promise<boolean>;
  accessLog: AccessLogStore;
  media: Pick<MediaStore, 'get' | 'openFile'>;
  hub: LiveHub;
  /** The clinic's quick replies (none: []). */
  quickReplies?(clinicId: string): readonly QuickReplyTemplate[];
  /** Who may be assigned in the clinic (the staff file's people listed by email). */
  staffOf?(clinicId: string): readonly StaffMember[];
  /** PUBLIC_BASE_URL: the pages' origin for the same-origin check and the status callback (null: the request's own). */
  publicBaseUrl: string | null;
  clock?: () => Date;
}

const PAGE_SIZE = 50;
/** Typed under "Start a conversation": a phone number when it has 7 digits or more (and no letters), else a name. */
const looksLikePhone = (typed: string): boolean => !/\p{L}/u.test(typed) && (typed.match(/\d/g) ?? []).length >= 7;
const CONVERSATION_ID = /^cv_[0-9a-f]{32}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The form fields a page posts, each one value at most this long. */
type Form = Record<string, string>;

function formOf(ctx: Context): Form {
  const body = (ctx.request as { body?: unknown }).body;
  const out: Form = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (typeof v === 'string') {
        out[k] = v;
      }
    }
  }
  return out;
}

function listStateOf(input: Record<string, unknown>): ListState {
  const view = typeof input.view === 'string' && (VIEWS as readonly string[]).includes(input.view) ? (input.view as InboxView) : 'unassigned';
  const status = typeof input.status === 'string' && (CONVERSATION_STATUSES as readonly string[]).includes(input.status) ? (input.status as ConversationStatus) : 'open';
  const cursor = typeof input.cursor === 'string' && input.cursor.length <= 200 && input.cursor !== '' ? input.cursor : undefined;
  return { view, status, ...(cursor ? { cursor } : {}) };
}

/**
 * The front desk's pages under /staff: the inbox (views, status tabs, search), a thread
 * with the patient beside it, the composer, the actions, and the live stream. Every route
 * runs behind the session (requirePerson), checks the person may see the URL's clinic
 * (another clinic's pages answer 404 like ones that do not exist), writes an access record
 * naming the person, and sends the page headers (CSP, no-store). State changes must come
 * from this origin.
 * @param deps - the conversations service, stores, session middleware, live hub
 */
export function createStaffPages(deps: StaffPagesDeps): Router {
  const router = new Router();
  const clock = deps.clock ?? ((): Date => new Date());
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });

  /** Errors as an HTML page (escaped), with the status the error carries. */
  async function pageErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (raw) {
      const err = toAppError(raw);
      ctx.status = err.status;
      if (err.status >= 500) {
        ctx.app.emit('error', err, ctx);
      }
      const person = (ctx.state as PageState).person;
      const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Refused' : err.status >= 500 ? 'Something went wrong' : 'Cannot do that';
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = renderPage(<MessagePage title={title} text={err.expose ? err.message : 'internal error'} {...(person ? { person } : {})} />);
    }
  }

  /** One access record a request, naming the person requirePerson found (state.who), as the staff API's are written. */
  const access = (route: string): Middleware => recordAccess({ accessLog: deps.accessLog, clock }, route);

  /** The URL's clinic, when the person may see it and it is configured; else 404. */
  function clinicOf(ctx: Context): Clinic {
    const clinicId = (ctx.params as { clinicId: string }).clinicId;
    const person = personOf(ctx.state);
    const clinic = person.clinics.includes(clinicId) ? deps.clinic(clinicId) : null;
    if (!clinic) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    return clinic;
  }

  function conversationIdOf(ctx: Context): string {
    const id = (ctx.params as { id: string }).id;
    if (!CONVERSATION_ID.test(id)) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    (ctx.state as PageState).conversationId = id;
    return id;
  }

  const staffNames = (clinicId: string): Map<string, string> => new Map((deps.staffOf?.(clinicId) ?? []).filter((s) => s.name !== '').map((s) => [s.email, s.name]));

  /** The list part of a page. */
  async function listModel(clinic: Clinic, person: StaffPerson, state: ListState, q: string, openId: string | null): Promise<ListModel> {
    const assignee = state.view === 'mine' ? person.email : state.view === 'unassigned' ? null : undefined;
    const filter = { ...(assignee === undefined ? {} : { assignee }), ...(q.trim() === '' ? {} : { q }) };
    const [page, counts] = await Promise.all([
      deps.service.list(clinic.id, { ...filter, status: state.status, order: 'waiting', limit: PAGE_SIZE, ...(state.cursor ? { cursor: state.cursor } : {}) }),
      deps.service.counts(clinic.id, filter),
    ]);
    const unread = await deps.service.unread(person.email, page.conversations);
    const names = staffNames(clinic.id);
    const waiting = counts.open;
    return {
      clinicId: clinic.id,
      timeZone: clinic.timezone,
      state,
      q,
      counts,
      rows: page.conversations.map((conversation) => ({
        conversation,
        unread: unread.has(conversation.id),
        assigneeName: conversation.assignee === null ? null : (names.get(conversation.assignee) ?? conversation.assignee),
      })),
      nextCursor: page.nextCursor,
      openId,
      now: clock(),
      title: `${waiting > 0 ? `(${waiting}) ` : ''}${VIEW_LABELS[state.view]} · ${clinic.name}`,
    };
  }

  /** The merge-field values of a conversation, for its quick replies, and the language to write in (the patient's). */
  function quickReplyValues(clinic: Clinic, cards: PatientCard[]): { language: string | null; values: (language: string) => Partial<Record<MergeField, string>> } {
    const next = cards.map((c) => c.next).filter((a): a is Appointment => a !== null).sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime())[0];
    const owner = next ? cards.find((c) => c.id === next.patientId) : cards[0];
    const texting = clinic.phoneNumbers[0] ?? '';
    return {
      language: owner?.language ?? null,
      values: (language) => ({
        'clinic.name': clinic.name,
        'clinic.officePhone': clinic.officePhone ?? texting,
        'clinic.phone': texting,
        'patient.firstName': owner?.name.split(' ')[0] ?? '',
        ...(next
          ? {
              'appointment.time': formatAppointmentTime(next.startsAt, clinic.timezone, language),
              'appointment.date': formatAppointmentDate(next.startsAt, clinic.timezone, language),
              'appointment.provider': next.provider ?? '',
            }
          : {}),
      }),
    };
  }

  /** The thread part: entries, what the rules did, the patients, the composer. */
  async function threadParts(clinic: Clinic, person: StaffPerson, id: string, composer: { draft?: string; error?: string } = {}): Promise<NonNullable<InboxPageModel['open']>> {
    const now = clock();
    const { conversation, entries } = await deps.service.thread(clinic.id, id);
    const [patients, optOut] = await Promise.all([deps.store.findPatientsByPhone(clinic.id, conversation.phone), deps.store.getOptOut(clinic.id, conversation.phone)]);
    const cards: PatientCard[] = await Promise.all(
      patients.map(async (p) => ({ id: p.id, name: `${p.firstName} ${p.lastName}`.trim(), language: p.language ?? null, next: await deps.store.findNextAppointment(clinic.id, [p.id], now) })),
    );
    const appointmentIds = new Set(entries.flatMap((e) => (e.type === 'inbound' ? e.handling.actions.map((a) => a.appointmentId).filter((x): x is string => x !== undefined) : [])));
    const appointments = new Map<string, Appointment>();
    for (const appointmentId of appointmentIds) {
      const found = await deps.store.getAppointment(appointmentId);
      if (found && found.clinicId === clinic.id) {
        appointments.set(appointmentId, found);
      }
    }
    const names = new Map<string, string>([...conversation.patients.map((p): [string, string] => [p.id, p.displayName]), ...cards.map((c): [string, string] => [c.id, c.name])]);
    const staff = [...(deps.staffOf?.(clinic.id) ?? [])];
    if (!staff.some((s) => s.email === person.email)) {
      staff.unshift({ email: person.email, name: person.name });
    }
    const assigneeName = conversation.assignee === null ? null : (staff.find((s) => s.email === conversation.assignee)?.name || conversation.assignee);
    const optedOutAt = optOut?.optedOut ? optOut.changedAt : null;
    const fill = quickReplyValues(clinic, cards);
    const quickReplies: QuickReply[] = (deps.quickReplies?.(clinic.id) ?? []).map((q) => {
      const { template, language } = quickReplyText(q, fill.language);
      return { shortcode: q.shortcode, text: renderTemplate(template, fill.values(language)) };
    });
    await deps.service.markRead(person.email, conversation);
    const thread: ThreadModel = {
      clinicId: clinic.id,
      timeZone: clinic.timezone,
      conversation,
      entries,
      handling: { appointments, patients: names, timeZone: clinic.timezone },
      assigneeName,
      staff,
      me: person.email,
      now,
    };
    return {
      thread,
      composer: {
        clinicId: clinic.id,
        conversationId: conversation.id,
        timeZone: clinic.timezone,
        optedOutAt,
        quickReplies,
        idempotencyKey: randomUUID(),
        draft: composer.draft ?? '',
        ...(composer.error ? { error: composer.error } : {}),
      },
      panel: { phone: conversation.phone, timeZone: clinic.timezone, patients: cards, optedOutAt },
    };
  }

  function html(ctx: Context, page: VNode, status = 200): void {
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderPage(page);
  }

  function partial(ctx: Context, part: VNode): void {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderPartial(part);
  }

  /** Back to the conversation page after a change (Post/Redirect/Get), keeping the list the person had. */
  function backTo(ctx: Context, clinicId: string, id: string, form: Form): void {
    ctx.status = 303;
    ctx.redirect(paths.conversation(clinicId, id, listStateOf(form)));
  }

  async function inboxPage(
    ctx: Context,
    options: { q?: string; openId?: string | null; notice?: string; picker?: PatientPickerModel; composer?: { draft?: string; error?: string }; status?: number; state?: ListState },
  ): Promise<void> {
    const clinic = clinicOf(ctx);
    const person = personOf(ctx.state);
    const state = options.state ?? listStateOf(ctx.query);
    const openId = options.openId ?? null;
    const [list, open] = await Promise.all([listModel(clinic, person, state, options.q ?? '', openId), openId ? threadParts(clinic, person, openId, options.composer) : Promise.resolve(null)]);
    const model: InboxPageModel = { clinicId: clinic.id, clinicName: clinic.name, person, list, open, ...(options.notice ? { notice: options.notice } : {}), ...(options.picker ? { picker: options.picker } : {}) };
    html(ctx, <InboxPage model={model} />, options.status ?? 200);
  }

  const sameOrigin = requireSameOrigin(deps.publicBaseUrl);
  const headers = pageHeaders();
  /** Every page route: headers, errors as pages, the session, the access record. */
  const page = (route: string): Middleware[] => [headers, pageErrors, deps.requirePerson, access(route)];
  /** Every state change: the same, from this origin, with its form parsed. */
  const change = (route: string): Middleware[] => [headers, pageErrors, sameOrigin, deps.requirePerson, access(route), parseForm];

  router.get(ROUTES.home, headers, pageErrors, deps.requirePerson, function staffHome(ctx: Context): void {
    const person = personOf(ctx.state);
    const clinics = person.clinics.map((id) => deps.clinic(id)).filter((c): c is Clinic => c !== null);
    if (clinics.length === 1) {
      ctx.status = 303;
      ctx.redirect(paths.inbox(clinics[0]!.id));
      return;
    }
    if (clinics.length === 0) {
      html(ctx, <MessagePage title="No clinic" text="You are signed in, but none of your clinics is configured on this service." person={person} />, 404);
      return;
    }
    html(ctx, <ClinicChooser person={person} clinics={clinics.map((c) => ({ id: c.id, name: c.name }))} />);
  });

  router.get(ROUTES.inbox, ...page(ROUTES.inbox), async function inbox(ctx: Context): Promise<void> {
    await inboxPage(ctx, {});
  });

  router.post(ROUTES.search, ...change(ROUTES.search), async function search(ctx: Context): Promise<void> {
    const form = formOf(ctx);
    await inboxPage(ctx, { q: (form.q ?? '').slice(0, 100), state: listStateOf(form) });
  });

  router.post(ROUTES.list, ...change(ROUTES.list), async function listPartial(ctx: Context): Promise<void> {
    const form = formOf(ctx);
    const clinic = clinicOf(ctx);
    const openId = form.open !== undefined && CONVERSATION_ID.test(form.open) ? form.open : null;
    partial(ctx, <ConversationList model={await listModel(clinic, personOf(ctx.state), listStateOf(form), (form.q ?? '').slice(0, 100), openId)} />);
  });

  router.get(ROUTES.conversation, ...page(ROUTES.conversation), async function conversationPage(ctx: Context): Promise<void> {
    await inboxPage(ctx, { openId: conversationIdOf(ctx) });
  });

  router.get(ROUTES.live, ...page(ROUTES.live), async function threadPartial(ctx: Context): Promise<void> {
    const parts = await threadParts(clinicOf(ctx), personOf(ctx.state), conversationIdOf(ctx));
    partial(ctx, <ThreadLive model={parts.thread} />);
  });

  router.post(ROUTES.count, headers, pageErrors, sameOrigin, deps.requirePerson, parseForm, function countSegmentsPartial(ctx: Context): void {
    const clinic = clinicOf(ctx);
    partial(ctx, <SegmentCounter clinicId={clinic.id} text={(formOf(ctx).text ?? '').slice(0, 2000)} />);
  });

  /** Who acts: the signed-in person, named as the thread shows them. */
  const actor = (ctx: Context): { id: string; name: string } => {
    const person = personOf(ctx.state);
    return { id: person.email, name: displayNameOf(person) };
  };

  router.post(ROUTES.replies, ...change(ROUTES.replies), async function sendReply(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    const id = conversationIdOf(ctx);
    const form = formOf(ctx);
    const text = form.text ?? '';
    const key = form.idempotencyKey ?? '';
    try {
      if (text.trim() === '' || text.length > 1600) {
        throw new AppError('BAD_REQUEST', 'a reply needs 1 to 1600 characters');
      }
      requireCleanText('reply', text);
      await deps.service.reply(clinic.id, id, text, actor(ctx), {
        assignToAuthor: true,
        ...(IDEMPOTENCY_KEY.test(key) ? { idempotencyKey: key } : {}),
      });
    } catch (err) {
      // Shown beside what was typed, so nothing is lost: opted out, not configured, refused by Twilio.
      if (isAppError(err) && err.expose && err.status < 500 && err.code !== 'NOT_FOUND') {
        await inboxPage(ctx, { openId: id, state: listStateOf(form), composer: { draft: text, error: err.message }, status: err.status });
        return;
      }
      throw err;
    }
    deps.hub.poke();
    backTo(ctx, clinic.id, id, form);
  });

  router.post(ROUTES.notes, ...change(ROUTES.notes), async function addNote(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    const id = conversationIdOf(ctx);
    const form = formOf(ctx);
    const text = form.text ?? '';
    if (text.trim() === '' || text.length > 4000) {
      throw new AppError('BAD_REQUEST', 'a note needs 1 to 4000 characters');
    }
    requireCleanText('note', text);
    await deps.service.addNote(clinic.id, id, text, actor(ctx));
    deps.hub.poke();
    backTo(ctx, clinic.id, id, form);
  });

  router.post(ROUTES.status, ...change(ROUTES.status), async function setStatus(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    const id = conversationIdOf(ctx);
    const form = formOf(ctx);
    const status = form.status ?? '';
    if (!(CONVERSATION_STATUSES as readonly string[]).includes(status)) {
      throw new AppError('BAD_REQUEST', `status must be one of ${CONVERSATION_STATUSES.join(', ')}`);
    }
    let until: Date | null = null;
    if (status === 'snoozed') {
      until = fromDatetimeLocal(form.snoozedUntil ?? '', clinic.timezone);
      if (!until) {
        throw new AppError('BAD_REQUEST', 'snooze needs a date and time');
      }
    }
    await deps.service.setStatus(clinic.id, id, status as ConversationStatus, until, actor(ctx));
    deps.hub.poke();
    backTo(ctx, clinic.id, id, form);
  });

  router.post(ROUTES.assignee, ...change(ROUTES.assignee), async function setAssignee(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    const id = conversationIdOf(ctx);
    const form = formOf(ctx);
    const wanted = (form.assignee ?? '').trim();
    const staff = deps.staffOf?.(clinic.id) ?? [];
    const me = personOf(ctx.state);
    // Someone of the clinic's staff (or the person themself); '' unassigns.
    if (wanted !== '' && wanted !== me.email && !staff.some((s) => s.email === wanted)) {
      throw new AppError('BAD_REQUEST', 'assign to someone of the clinic staff');
    }
    const name = wanted === me.email ? displayNameOf(me) : (staff.find((s) => s.email === wanted)?.name || wanted);
    await deps.service.setAssignee(clinic.id, id, wanted === '' ? null : wanted, { ...actor(ctx), assigneeName: name });
    deps.hub.poke();
    backTo(ctx, clinic.id, id, form);
  });

  router.post(ROUTES.start, ...change(ROUTES.start), async function startConversation(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    const form = formOf(ctx);
    const typed = (form.patient ?? form.phone ?? '').trim().slice(0, 100);
    const patientId = (form.patientId ?? '').slice(0, 100);
    try {
      // A patient picked from the list, a phone number, or a name to pick from.
      if (patientId === '' && !looksLikePhone(typed)) {
        if (typed.length < 2) {
          throw new AppError('BAD_REQUEST', "type a patient's name (2 letters or more) or a phone number");
        }
        await inboxPage(ctx, { state: listStateOf(form), picker: await pickerModel(clinic, typed) });
        return;
      }
      const { conversation } = patientId !== '' ? await deps.service.startWithPatient(clinic.id, patientId, actor(ctx)) : await deps.service.start(clinic.id, typed, actor(ctx));
      (ctx.state as PageState).conversationId = conversation.id;
      deps.hub.poke();
      ctx.status = 303;
      ctx.redirect(paths.conversation(clinic.id, conversation.id, { view: 'all' }));
    } catch (err) {
      if (isAppError(err) && (err.code === 'OPTED_OUT' || err.code === 'BAD_REQUEST' || (err.code === 'NOT_FOUND' && patientId !== ''))) {
        await inboxPage(ctx, { notice: err.message, status: err.status, state: listStateOf(form) });
        return;
      }
      throw err;
    }
  });

  /** The patients a typed name points to, for the picker (with their next visit and opt-out). */
  async function pickerModel(clinic: Clinic, name: string): Promise<PatientPickerModel> {
    const found = await deps.service.findPatients(clinic.id, name, PATIENT_MATCHES + 1);
    const now = clock();
    const matches = await Promise.all(
      found.slice(0, PATIENT_MATCHES).map(async ({ patient, optedOutAt }) => {
        const next = await deps.store.findNextAppointment(clinic.id, [patient.id], now);
        return {
          patientId: patient.id,
          name: `${patient.firstName} ${patient.lastName}`.trim(),
          phoneEnding: patient.phone.slice(-4),
          nextVisit: next ? formatAppointmentTime(next.startsAt, clinic.timezone, 'en') : null,
          optedOutOn: optedOutAt ? localTime(optedOutAt, clinic.timezone) : null,
        };
      }),
    );
    return { name, matches, more: found.length > PATIENT_MATCHES };
  }

  router.get(ROUTES.media, ...page(ROUTES.media), async function staffMedia(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    const mediaId = (ctx.params as { mediaId: string }).mediaId;
    const record = MEDIA_ID.test(mediaId) ? await deps.media.get(clinic.id, mediaId) : null;
    if (!record || record.state !== 'stored' || !record.file) {
      throw new AppError('NOT_FOUND', 'media not found');
    }
    await sendMediaFile(ctx, deps.media, record.file, mediaId);
  });

  router.get(ROUTES.events, headers, pageErrors, deps.requirePersonQuietly ?? deps.requirePerson, access(ROUTES.events), async function liveEvents(ctx: Context): Promise<void> {
    const clinic = clinicOf(ctx);
    deps.hub.attach(ctx, clinic.id, deps.streamCheck?.(ctx, clinic.id));
  });

  return router;
}
