import { createHash, randomUUID } from 'node:crypto';
import type { Clinic, MessageRecord, Patient, PendingChoice, StaffPriority } from '../domain.js';
import { AppError } from '../errors.js';
import { toE164 } from '../phone.js';
import type { Store } from '../store/store.js';
import { DEFAULT_REPLIES_PER_KEY_PER_MINUTE, DEFAULT_REPLY_MAX_SEGMENTS } from '../config/clinics-file.js';
import { countSegments } from '../sms-segments.js';
import { missingForSending } from '../service/sending-check.js';
import {
  DELIVERY_RANK,
  SEND_LEASE_MS,
  effectiveStatus,
  preview,
  type Conversation,
  type ConversationChange,
  type ConversationStatus,
  type DeliveryStatus,
  type ListFilter,
  type ListOrder,
  type ListPosition,
  type StaffEntry,
} from './conversation.js';
import type { ConversationStore } from './conversation-store.js';
import { PENDING_MEDIA_LINKS, type MediaLinks, type ThreadMedia } from './media-links.js';
import { statusCallbackUrl } from './status-callback-url.js';
import type { SmsSender } from './twilio-messages.js';

/** How many patients a name search offers to start a conversation with. */
export const PATIENT_MATCHES = 10;

/** How many of each kind of thread entry a thread shows (the newest). */
export const THREAD_LIMIT = 200;

export interface ConversationServiceDeps {
  conversations: ConversationStore;
  /** The main store: opt-out state, the patients on a phone, and the sender's note of staff activity (conversation.staffActive). */
  store: Pick<Store, 'getOptOut' | 'findPatientsByPhone' | 'noteStaffActivity' | 'getPatient' | 'searchPatientsByName'>;
  sender: SmsSender;
  /** The clinic and its Twilio credentials as live now (null: no such clinic). */
  clinic(clinicId: string): { clinic: Clinic; accountSid: string | null; authToken: string | null } | null;
  clock: () => Date;
  media?: MediaLinks;
  /**
   * The origin Twilio's delivery-status callbacks go to: PUBLIC_BASE_URL, or in development
   * the address the service listens on; null (or not absolute): replies ask for no callback.
   */
  callbackOrigin?: () => string | null;
  /** True while an opt-out from the number waits in this instance's outage spool: nothing is sent until it is applied. */
  held?: (clinicId: string, phone: string) => boolean;
}

/** A conversation as the API shows it. */
export interface ConversationView {
  id: string;
  phone: string;
  status: ConversationStatus;
  snoozedUntil: Date | null;
  assignee: string | null;
  waitingSince: Date | null;
  lastActivityAt: Date;
  lastMessage: { direction: 'inbound' | 'outbound' | 'note'; preview: string; media: number };
  patients: { id: string; displayName: string }[];
  createdAt: Date;
  /** urgent comes first in the list (route-to-staff's priority, until staff answer). */
  priority: StaffPriority;
  priorityReason: string | null;
  /** When the newest message that may revoke consent in plain words arrived (a possible opt-out); null: none. */
  possibleOptOutAt: Date | null;
}

export type ThreadEntryView =
  | {
      type: 'inbound';
      id: string;
      at: Date;
      text: string;
      media: ThreadMedia[];
      /** What the service did with it: status, rules fired, actions and outcomes, the automatic reply. */
      handling: {
        status: string;
        rulesFired: string[];
        actions: { type: string; outcome: string; rule: string; appointmentId?: string }[];
        autoReply: string | null;
        /** A family's "which appointment?" question this message asked, answered or came while it was pending (or the list it went to staff with). */
        choice?: ThreadChoice;
        /** The message may revoke consent in plain words: staff should check and opt the number out if so. */
        possibleOptOut?: true;
      };
    }
  | { type: 'note'; id: string; at: Date; text: string; author: string; authorName: string | null }
  | {
      type: 'outbound';
      id: string;
      at: Date;
      text: string;
      author: string;
      authorName: string | null;
      twilioSid: string | null;
      deliveryStatus: DeliveryStatus;
      deliveryErrorCode: string | null;
      /** Twilio's answer and every delivery report after it, in arrival order. */
      deliveryHistory: { status: DeliveryStatus; at: Date; errorCode: string | null }[];
    }
  /** Who changed the conversation: "resolved", "assigned to maria@…" (by author). */
  | { type: 'activity'; id: string; at: Date; text: string; author: string; authorName: string | null };

/** Who acts: an API key (its id) or a signed-in person (email, and name for the thread). */
export interface Actor {
  id: string;
  name?: string;
}

export interface ListOptions {
  status?: ConversationStatus;
  /** A string: that assignee's; null: the unassigned ones. */
  assignee?: string | null;
  /** A phone number in any notation, or part of a patient's name. */
  q?: string;
  /** Default `recent`. */
  order?: ListOrder;
  limit: number;
  cursor?: string;
}

/** Encodes the list position a page ended at: opaque to callers. */
export function encodeCursor(position: ListPosition): string {
  const parts = [position.at.getTime(), position.id, position.urgent ? 1 : 0, ...(position.queueAt ? [position.queueAt.getTime()] : [])];
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/** Decodes a cursor; BAD_REQUEST when it is not one of ours (or of another order). */
export function decodeCursor(cursor: string, order: ListOrder = 'recent'): ListPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // recent: [at, id, urgent] (a cursor of before priorities has no third item: normal);
    // waiting: [at, id, urgent, queueAt].
    const ok =
      Array.isArray(value) &&
      Number.isSafeInteger(value[0]) &&
      typeof value[1] === 'string' &&
      value[1].length <= 100 &&
      (value.length === 2 || value[2] === 0 || value[2] === 1);
    if (ok && order === 'recent' && value.length <= 3) {
      return { urgent: value[2] === 1, at: new Date(value[0] as number), id: value[1] as string };
    }
    if (ok && order === 'waiting' && value.length === 4 && Number.isSafeInteger(value[3])) {
      return { urgent: value[2] === 1, at: new Date(value[0] as number), id: value[1] as string, queueAt: new Date(value[3] as number) };
    }
  } catch {
    // falls through
  }
  throw new AppError('BAD_REQUEST', 'invalid cursor');
}

const PHONE_LIKE = /^[\d\s()+.-]+$/;

/**
 * What a search text looks for: a phone number (any notation with 7+ digits, read in the
 * clinic's region) or part of a patient's name.
 * @param q - what staff typed
 * @param defaultRegion - the clinic's region for numbers without a country code
 */
export function searchFilter(q: string, defaultRegion: string): Pick<ListFilter, 'phone' | 'name'> {
  const text = q.trim();
  if (PHONE_LIKE.test(text) && text.replace(/\D/g, '').length >= 7) {
    const phone = toE164(text, defaultRegion);
    // A number that cannot exist matches no conversation (not a name either).
    return { phone: phone ?? '+0' };
  }
  return { name: text };
}

const digest = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
/**
 * A new opaque id: a prefix and a random UUID's 32 hex digits (122 random bits). randomUUID
 * draws from Node's entropy cache, refilled 128 ids at a time; randomBytes(16) asked
 * OpenSSL for every id (1.6% of the service's CPU in the compare phase's profile).
 */
export const newId = (prefix: 'cv' | 'en'): string => `${prefix}_${randomUUID().replaceAll('-', '')}`;

export function toView(c: Conversation, now: Date): ConversationView {
  const status = effectiveStatus(c, now);
  return {
    id: c.id,
    phone: c.phone,
    status,
    snoozedUntil: status === 'snoozed' ? c.snoozedUntil : null,
    assignee: c.assignee,
    waitingSince: c.waitingSince,
    lastActivityAt: c.last.at,
    lastMessage: { direction: c.last.direction, preview: c.last.preview, media: c.last.media ?? 0 },
    patients: c.patients,
    createdAt: c.createdAt,
    priority: c.priority,
    priorityReason: c.priorityReason,
    possibleOptOutAt: c.possibleOptOutAt,
  };
}

function entryView(e: StaffEntry): ThreadEntryView {
  const authorName = e.authorName ?? null;
  if (e.kind === 'note' || e.kind === 'activity') {
    return { type: e.kind, id: e.id, at: e.at, text: e.text, author: e.author, authorName };
  }
  return {
    type: 'outbound',
    id: e.id,
    at: e.at,
    text: e.text,
    author: e.author,
    authorName,
    twilioSid: e.twilioSid ?? null,
    deliveryStatus: e.delivery?.status ?? 'sending-requested',
    deliveryErrorCode: e.delivery?.errorCode ?? null,
    deliveryHistory: (e.deliveryHistory ?? []).map((d) => ({ status: d.status, at: d.at, errorCode: d.errorCode ?? null })),
  };
}

function inboundView(r: MessageRecord, media: ThreadMedia[]): ThreadEntryView {
  return {
    type: 'inbound',
    id: r.messageSid,
    at: r.receivedAt,
    text: r.message.body,
    media,
    handling: {
      status: r.status,
      rulesFired: r.rulesFired,
      actions: r.actions.map((a) => ({
        type: a.type,
        outcome: a.outcome,
        rule: a.ruleName,
        ...(typeof a.detail?.appointmentId === 'string' ? { appointmentId: a.detail.appointmentId } : {}),
      })),
      autoReply: r.reply,
      ...(r.choice ? { choice: threadChoice(r.choice) } : {}),
      ...(r.possibleOptOut ? { possibleOptOut: true as const } : {}),
    },
  };
}

/** A family's question as staff see it next to a message: what it would do, and the numbered options. */
export interface ThreadChoice {
  action: string;
  askedAt: Date;
  expiresAt: Date;
  options: { number: number; patientId: string; firstName: string; appointmentId: string; startsAt: Date }[];
}

function threadChoice(choice: PendingChoice): ThreadChoice {
  return {
    action: choice.action,
    askedAt: choice.askedAt,
    expiresAt: choice.expiresAt,
    options: choice.options.map((o, i) => ({ number: i + 1, patientId: o.patientId, firstName: o.firstName, appointmentId: o.appointmentId, startsAt: o.startsAt })),
  };
}

/**
 * What front-desk staff can do with conversations: list, read a thread, change status and
 * assignee, write notes, and answer by SMS. Every clinic-scoped look-up answers NOT_FOUND
 * for another clinic's conversation exactly as for one that does not exist.
 */
export class ConversationService {
  private readonly media: MediaLinks;
  /** Replies counted per clinic + key in the current minute (countReply). */
  private readonly replyCounts = new Map<string, { minute: number; count: number }>();
  /** The tail of each clinic + number's sends in this instance (inTurn). */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(private readonly deps: ConversationServiceDeps) {
    this.media = deps.media ?? PENDING_MEDIA_LINKS;
  }

  async list(clinicId: string, options: ListOptions): Promise<{ conversations: ConversationView[]; nextCursor: string | null }> {
    const now = this.deps.clock();
    const order = options.order ?? 'recent';
    const page = await this.deps.conversations.list({
      ...this.filter(clinicId, options, now),
      limit: options.limit,
      order,
      ...(options.status === undefined ? {} : { status: options.status }),
      ...(options.cursor === undefined ? {} : { after: decodeCursor(options.cursor, order) }),
    });
    return { conversations: page.conversations.map((c) => toView(c, now)), nextCursor: page.next ? encodeCursor(page.next) : null };
  }

  /** How many conversations each status tab holds, for the same view and search. */
  async counts(clinicId: string, options: Pick<ListOptions, 'assignee' | 'q'>): Promise<Record<ConversationStatus, number>> {
    return this.deps.conversations.counts(this.filter(clinicId, options, this.deps.clock()));
  }

  /** One conversation as the list shows it (NOT_FOUND for another clinic's). */
  async get(clinicId: string, id: string): Promise<ConversationView> {
    return toView(await this.mustGet(clinicId, id), this.deps.clock());
  }

  /** Records that `reader` has seen the conversation as it is now (the staff pages' unread mark). */
  async markRead(reader: string, conversation: Pick<ConversationView, 'id' | 'lastActivityAt'>): Promise<void> {
    await this.deps.conversations.markRead(reader, conversation.id, conversation.lastActivityAt);
  }

  /** Which of these conversations have inbound activity the reader has not seen. */
  async unread(reader: string, conversations: readonly ConversationView[]): Promise<Set<string>> {
    const marks = await this.deps.conversations.readMarks(reader, conversations.map((c) => c.id));
    return new Set(conversations.filter((c) => c.lastMessage.direction === 'inbound' && !(c.lastActivityAt <= (marks.get(c.id) ?? new Date(0)))).map((c) => c.id));
  }

  /**
   * Starts (or finds) the conversation with a phone of the clinic, for a call-back or a form
   * to bring: OPTED_OUT when the number opted out, BAD_REQUEST when it is no possible number.
   * @param phone - any notation, read in the clinic's region
   */
  async start(clinicId: string, phone: string, by: Actor): Promise<{ conversation: ConversationView; created: boolean }> {
    const live = this.deps.clinic(clinicId);
    if (!live) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    const e164 = toE164(phone, live.clinic.defaultRegion);
    if (!e164) {
      throw new AppError('BAD_REQUEST', 'phone is not a possible phone number');
    }
    const optOut = await this.deps.store.getOptOut(clinicId, e164);
    if (optOut?.optedOut) {
      throw new AppError('OPTED_OUT', `this number opted out of texts (STOP) on ${optOut.changedAt.toISOString().slice(0, 10)}; it cannot be texted until it sends START`);
    }
    const now = this.deps.clock();
    const patients = (await this.deps.store.findPatientsByPhone(clinicId, e164)).map((p) => ({ id: p.id, displayName: `${p.firstName} ${p.lastName}`.trim() }));
    const clinicNumber = live.clinic.phoneNumbers[0] ?? '';
    const result = await this.deps.conversations.ensure({ clinicId, phone: e164, clinicNumber, patients, at: now }, newId('cv'));
    if (result.created) {
      await this.activity(result.conversation, 'started the conversation', by, now);
    }
    return { conversation: toView(result.conversation, now), created: result.created };
  }

  /**
   * Starts (or finds) the conversation with a patient of the clinic, by the patient's id (as
   * the practice system imported it): NOT_FOUND when the clinic has no such patient, OPTED_OUT
   * when their phone opted out.
   */
  async startWithPatient(clinicId: string, patientId: string, by: Actor): Promise<{ conversation: ConversationView; created: boolean }> {
    const patient = await this.deps.store.getPatient(clinicId, patientId);
    if (!patient) {
      throw new AppError('NOT_FOUND', 'no patient of this clinic has this patientId');
    }
    return this.start(clinicId, patient.phone, by);
  }

  /**
   * The clinic's patients a name points to (each word starts the first or last name), for
   * staff who start a conversation by name, with whether their phone opted out.
   * @param name - what staff typed
   */
  async findPatients(clinicId: string, name: string, limit = PATIENT_MATCHES): Promise<Array<{ patient: Patient; optedOutAt: Date | null }>> {
    const words = name.toLowerCase().split(/\s+/).filter((w) => w !== '').slice(0, 4);
    const patients = await this.deps.store.searchPatientsByName(clinicId, words, limit);
    return Promise.all(
      patients.map(async (patient) => {
        const optOut = await this.deps.store.getOptOut(clinicId, patient.phone);
        return { patient, optedOutAt: optOut?.optedOut ? optOut.changedAt : null };
      }),
    );
  }

  async thread(clinicId: string, id: string): Promise<{ conversation: ConversationView; entries: ThreadEntryView[] }> {
    const conversation = await this.mustGet(clinicId, id);
    const [inbound, staff] = await Promise.all([
      this.deps.conversations.inboundMessages(clinicId, conversation.phone, THREAD_LIMIT),
      this.deps.conversations.entries(conversation.id, THREAD_LIMIT),
    ]);
    const media = await this.media.linksFor(clinicId, inbound);
    const entries = [...inbound.map((r) => inboundView(r, media.get(r.messageSid) ?? [])), ...staff.map(entryView)].sort((a, b) => a.at.getTime() - b.at.getTime());
    return { conversation: toView(conversation, this.deps.clock()), entries };
  }

  async setStatus(clinicId: string, id: string, status: ConversationStatus, snoozedUntil: Date | null, by?: Actor): Promise<ConversationView> {
    const now = this.deps.clock();
    if (status === 'snoozed' && (snoozedUntil === null || snoozedUntil <= now)) {
      throw new AppError('BAD_REQUEST', 'snoozed needs snoozedUntil in the future');
    }
    if (status !== 'snoozed' && snoozedUntil !== null) {
      throw new AppError('BAD_REQUEST', 'snoozedUntil goes only with status snoozed');
    }
    // Resolving, or handing the turn to the patient, answers whatever was waiting.
    const answered = status === 'resolved' || status === 'pending';
    const updated = await this.mustUpdate(clinicId, id, { status, snoozedUntil, change: 'conversation.status_changed', ...(answered ? { answered } : {}) }, now);
    if (by) {
      const words = { open: 'reopened', pending: 'marked pending (waiting on the patient)', resolved: 'resolved', snoozed: `snoozed until ${this.localTime(clinicId, snoozedUntil ?? now)}` }[status];
      await this.activity({ id, clinicId }, words, by, now);
    }
    return updated;
  }

  async setAssignee(clinicId: string, id: string, assignee: string | null, by?: Actor & { assigneeName?: string }): Promise<ConversationView> {
    const now = this.deps.clock();
    const updated = await this.mustUpdate(clinicId, id, { assignee, change: 'assignee.changed' }, now);
    if (by) {
      await this.activity({ id, clinicId }, assignee === null ? 'unassigned the conversation' : `assigned it to ${by.assigneeName ?? assignee}`, by, now);
    }
    return updated;
  }

  async addNote(clinicId: string, id: string, text: string, author: string | Actor): Promise<ThreadEntryView> {
    const by = typeof author === 'string' ? { id: author } : author;
    const conversation = await this.mustGet(clinicId, id);
    const now = this.deps.clock();
    const entry: StaffEntry = { id: newId('en'), conversationId: conversation.id, clinicId, kind: 'note', text, at: now, author: by.id, ...(by.name ? { authorName: by.name } : {}) };
    await this.deps.conversations.addEntry(entry);
    await this.deps.conversations.update(clinicId, conversation.id, { last: { at: now, direction: 'note', preview: preview(text) }, change: 'message.created' }, now);
    // Staff are in the conversation: automatic replies hold back (conversation.staffActive).
    await this.deps.store.noteStaffActivity(clinicId, conversation.phone, now);
    return entryView(entry);
  }

  /** An activity line in the thread: who changed the conversation (kept like a note, never sent). */
  private async activity(conversation: Pick<Conversation, 'id' | 'clinicId'>, text: string, by: Actor, at: Date): Promise<void> {
    await this.deps.conversations.addEntry({
      id: newId('en'),
      conversationId: conversation.id,
      clinicId: conversation.clinicId,
      kind: 'activity',
      text,
      at,
      author: by.id,
      ...(by.name ? { authorName: by.name } : {}),
    });
  }

  /** A time as the clinic's front desk reads it: "Mon, Dec 7, 9:00 AM". */
  private localTime(clinicId: string, at: Date): string {
    const timeZone = this.deps.clinic(clinicId)?.clinic.timezone ?? 'UTC';
    return new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(at);
  }

  private filter(clinicId: string, options: Pick<ListOptions, 'assignee' | 'q'>, now: Date): ListFilter {
    const region = this.deps.clinic(clinicId)?.clinic.defaultRegion ?? 'US';
    const q = options.q?.trim();
    return {
      clinicId,
      now,
      ...(options.assignee === undefined ? {} : { assignee: options.assignee }),
      ...(q ? searchFilter(q, region) : {}),
    };
  }

  /**
   * Texts the patient from the clinic number they last wrote to, within the clinic's caps
   * (segments per reply, replies per key a minute). The reply is stored first, leased to this
   * request (SEND_LEASE_MS), then sent once; with an Idempotency-Key a retry gets the first
   * result. A retry that finds the reply pending past its lease (a crash, or Twilio did not
   * answer) asks Twilio's message list whether it went out, and sends it only if not.
   * Refused with OPTED_OUT when the number opted out (nothing sent).
   */
  async reply(
    clinicId: string,
    id: string,
    text: string,
    author: string | Actor,
    options: { idempotencyKey?: string; assignToAuthor?: boolean } = {},
  ): Promise<{ entry: ThreadEntryView; replayed: boolean }> {
    const by = typeof author === 'string' ? { id: author } : author;
    const conversation = await this.mustGet(clinicId, id);
    const live = this.deps.clinic(clinicId);
    if (!live) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    this.refuseHeld(clinicId, conversation.phone);
    const segments = countSegments(text);
    const maxSegments = live.clinic.replyMaxSegments ?? DEFAULT_REPLY_MAX_SEGMENTS;
    if (segments.segments > maxSegments) {
      throw new AppError('BAD_REQUEST', `text is ${segments.segments} SMS segments (${segments.encoding}); this clinic allows at most ${maxSegments} per reply`);
    }
    const optOut = await this.deps.store.getOptOut(clinicId, conversation.phone);
    if (optOut?.optedOut) {
      throw new AppError('OPTED_OUT', 'the patient has opted out of texts (STOP); nothing was sent');
    }
    const missing = missingForSending(live.clinic, live.accountSid, live.authToken);
    if (missing !== null || !live.accountSid || !live.authToken) {
      throw new AppError('TWILIO_NOT_CONFIGURED', `${missing ?? ''}; nothing was sent`);
    }
    const account = { clinic: live.clinic, accountSid: live.accountSid, authToken: live.authToken };
    const now = this.deps.clock();
    this.countReply(clinicId, by.id, live.clinic.repliesPerKeyPerMinute ?? DEFAULT_REPLIES_PER_KEY_PER_MINUTE, now);
    const entry: StaffEntry = {
      id: newId('en'),
      conversationId: conversation.id,
      clinicId,
      kind: 'outbound',
      text,
      at: now,
      author: by.id,
      ...(by.name ? { authorName: by.name } : {}),
      accountSid: live.accountSid,
      delivery: { rank: DELIVERY_RANK['sending-requested'], status: 'sending-requested', at: now },
      leaseUntil: new Date(now.getTime() + SEND_LEASE_MS),
      ...(options.idempotencyKey === undefined ? {} : { idempotency: { key: digest(options.idempotencyKey), request: digest(`${conversation.id}\n${text}`) } }),
    };
    const added = await this.deps.conversations.addEntry(entry);
    let pending = entry;
    if (!added.added) {
      const existing = added.existing;
      if (existing.idempotency?.request !== entry.idempotency?.request) {
        throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used for a different request');
      }
      if (existing.twilioSid !== undefined) {
        return { entry: entryView(existing), replayed: true };
      }
      if (!(await this.deps.conversations.claimPending(existing.id, now, new Date(now.getTime() + SEND_LEASE_MS)))) {
        const until = existing.leaseUntil ?? new Date(existing.at.getTime() + SEND_LEASE_MS);
        throw new AppError('IDEMPOTENCY_CONFLICT', 'a request with this Idempotency-Key is still in progress', {
          retryAfterSeconds: Math.min(60, Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000))),
        });
      }
      // Ours now: did it go out before its sender died or lost Twilio's answer?
      const found = await this.deps.sender.find({ ...this.route(account, conversation), body: existing.text, since: new Date(existing.at.getTime() - SEND_LEASE_MS) });
      if (found) {
        return { entry: await this.recordSent(existing, found, conversation), replayed: true };
      }
      pending = existing;
    }
    const sent = await this.inTurn(`${clinicId}\n${conversation.phone}`, async () => {
      // Again, just before sending: a STOP may have arrived since the first check (typically
      // while a reply ahead of this one, to the same number, was with Twilio).
      if (this.deps.held?.(clinicId, conversation.phone) === true) {
        await this.deps.conversations.removeEntry(pending.id);
        this.refuseHeld(clinicId, conversation.phone);
      }
      if ((await this.deps.store.getOptOut(clinicId, conversation.phone))?.optedOut) {
        await this.deps.conversations.removeEntry(pending.id);
        throw new AppError('OPTED_OUT', 'the patient has opted out of texts (STOP) while this reply waited; nothing was sent');
      }
      return this.send(pending, account, conversation, statusCallbackUrl(this.deps.callbackOrigin?.() ?? null));
    });
    const recorded = await this.recordSent(pending, sent, conversation, options.assignToAuthor ? by.id : null);
    // Staff are in the conversation: automatic replies hold back (conversation.staffActive).
    await this.deps.store.noteStaffActivity(clinicId, conversation.phone, now);
    return { entry: recorded, replayed: pending !== entry };
  }

  /** Records Twilio's answer for a stored reply, and the reply as the conversation's newest activity. */
  private async recordSent(entry: StaffEntry, sent: { sid: string; status: string }, conversation: Conversation, assignTo: string | null = null): Promise<ThreadEntryView> {
    const status = (Object.hasOwn(DELIVERY_RANK, sent.status) ? sent.status : 'queued') as DeliveryStatus;
    const delivery = { rank: DELIVERY_RANK[status], status, at: this.deps.clock() };
    await this.deps.conversations.markSent(entry.id, sent.sid, delivery);
    // A reply to an unassigned conversation makes it its sender's (as Podium does).
    const change: ConversationChange = {
      answered: true,
      last: { at: entry.at, direction: 'outbound', preview: preview(entry.text) },
      change: 'message.created',
      ...(assignTo !== null && conversation.assignee === null ? { assignee: assignTo } : {}),
    };
    await this.deps.conversations.update(entry.clinicId, conversation.id, change, entry.at);
    const { leaseUntil: _done, ...rest } = entry;
    return entryView({ ...rest, twilioSid: sent.sid, delivery, deliveryHistory: [...(entry.deliveryHistory ?? []), delivery] });
  }

  /**
   * Counts one reply of `author` (an API key) in the current minute; TOO_MANY_REQUESTS with
   * Retry-After past `limit`. Counted in this instance's memory, per clinic and key.
   */
  private countReply(clinicId: string, author: string, limit: number, now: Date): void {
    const minute = Math.floor(now.getTime() / 60_000);
    const key = `${clinicId}\n${author}`;
    const current = this.replyCounts.get(key);
    const count = current?.minute === minute ? current.count : 0;
    if (count >= limit) {
      throw new AppError('TOO_MANY_REQUESTS', `this key sent ${count} replies this minute, the most this clinic allows; try again shortly`, {
        retryAfterSeconds: Math.max(1, Math.ceil(((minute + 1) * 60_000 - now.getTime()) / 1000)),
      });
    }
    if (this.replyCounts.size >= 10_000) {
      for (const [k, v] of this.replyCounts) {
        if (v.minute !== minute) {
          this.replyCounts.delete(k);
        }
      }
    }
    this.replyCounts.set(key, { minute, count: count + 1 });
  }

  /**
   * Twilio's delivery status for a text we sent, applied only to a text of one of
   * `clinicIds` (the clinics whose token verified the callback) sent from `accountSid` (the
   * callback's AccountSid). Statuses we do not know and texts that do not match are ignored
   * (Twilio gets 204 either way). Every matched report goes into the text's delivery history.
   */
  async deliveryReport(report: { messageSid: string; status: string; errorCode?: string; accountSid: string; clinicIds: readonly string[] }): Promise<boolean> {
    if (!Object.hasOwn(DELIVERY_RANK, report.status) || report.clinicIds.length === 0) {
      return false;
    }
    const status = report.status as DeliveryStatus;
    const updated = await this.deps.conversations.updateDelivery(
      { twilioSid: report.messageSid, clinicIds: report.clinicIds, accountSid: report.accountSid },
      {
        rank: DELIVERY_RANK[status],
        status,
        at: this.deps.clock(),
        ...(report.errorCode ? { errorCode: report.errorCode } : {}),
      },
    );
    if (updated) {
      // The thread on every instance shows the new status: the live poller sees the conversation changed.
      await this.deps.conversations.update(updated.clinicId, updated.conversationId, { change: 'message.updated' }, this.deps.clock());
    }
    return updated !== null;
  }

  /** OPTED_OUT while an opt-out from the number waits in the outage spool (it is applied when the database is back). */
  private refuseHeld(clinicId: string, phone: string): void {
    if (this.deps.held?.(clinicId, phone) === true) {
      throw new AppError('OPTED_OUT', 'the patient sent STOP during a database outage; it is applied once the database is back, and nothing is sent until then');
    }
  }

  /** Who texts whom for a conversation: the clinic number the patient last wrote to (while the clinic still has it). */
  private route(account: { clinic: Clinic; accountSid: string; authToken: string }, conversation: Conversation): { accountSid: string; authToken: string; from: string; to: string } {
    const { clinic } = account;
    return {
      accountSid: account.accountSid,
      authToken: account.authToken,
      from: clinic.phoneNumbers.includes(conversation.clinicNumber) ? conversation.clinicNumber : (clinic.phoneNumbers[0] ?? conversation.clinicNumber),
      to: conversation.phone,
    };
  }

  /**
   * Hands the entry's text to Twilio. When Twilio refused it, the entry goes (the same
   * Idempotency-Key may try again); when Twilio did not answer, it stays, its lease ended, so
   * that a retry looks it up at Twilio instead of texting twice.
   */
  private async send(
    entry: StaffEntry,
    account: { clinic: Clinic; accountSid: string; authToken: string },
    conversation: Conversation,
    statusCallback: string | undefined,
  ): Promise<{ sid: string; status: string }> {
    try {
      return await this.deps.sender.send({ ...this.route(account, conversation), body: entry.text, ...(statusCallback === undefined ? {} : { statusCallback }) });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'TWILIO_TIMEOUT') {
        await this.deps.conversations.releasePending(entry.id, this.deps.clock());
      } else {
        await this.deps.conversations.removeEntry(entry.id);
      }
      throw err;
    }
  }

  /**
   * Runs `work` after every earlier work of the same key has finished: this instance sends
   * one reply at a time per clinic and number, so each one's last opt-out check sees a STOP
   * that arrived while the one before it was with Twilio.
   */
  private async inTurn<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = previous.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.turns.set(key, mine);
    await previous;
    try {
      return await work();
    } finally {
      done();
      if (this.turns.get(key) === mine) {
        this.turns.delete(key);
      }
    }
  }

  private async mustGet(clinicId: string, id: string): Promise<Conversation> {
    const found = await this.deps.conversations.get(clinicId, id);
    if (!found) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    return found;
  }

  private async mustUpdate(clinicId: string, id: string, change: ConversationChange, now: Date): Promise<ConversationView> {
    const updated = await this.deps.conversations.update(clinicId, id, change, now);
    if (!updated) {
      throw new AppError('NOT_FOUND', 'not found');
    }
    return toView(updated, now);
  }
}
