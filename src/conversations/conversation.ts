import type { StaffPriority } from '../domain.js';

/**
 * The staff conversation model: one conversation per clinic and sender phone (Chatwoot's
 * conversation, Artera's shared inbox). Plain types, no behaviour.
 */

export const CONVERSATION_STATUSES = ['open', 'pending', 'resolved', 'snoozed'] as const;
/** open: staff should look; pending: waiting on the patient; resolved: done; snoozed: until snoozedUntil. */
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

/** A patient on the conversation's phone, as staff see them in the list. */
export interface PatientName {
  id: string;
  displayName: string;
}

/** The newest thing that reached staff or that staff did, for the list. */
export interface LastActivity {
  at: Date;
  direction: 'inbound' | 'outbound' | 'note';
  /** The first PREVIEW_LENGTH characters. */
  preview: string;
  /** How many photos or files came with it (absent: none): a photo-only message shows as a photo, not as an empty preview. */
  media?: number;
}

export const PREVIEW_LENGTH = 100;

export interface Conversation {
  /** Opaque and random: never derived from the phone number, which must not leak through URLs or logs. */
  id: string;
  clinicId: string;
  /** The sender, E.164. */
  phone: string;
  /** The clinic number the patient last texted; replies go out from it. */
  clinicNumber: string;
  status: ConversationStatus;
  snoozedUntil: Date | null;
  assignee: string | null;
  /** The oldest inbound message that reached staff and no staff action has answered yet (null: none). */
  waitingSince: Date | null;
  last: LastActivity;
  patients: PatientName[];
  createdAt: Date;
  /**
   * urgent: a rule routed a message with `priority: urgent` and no staff action has answered
   * it since (a reply, resolving, or handing the turn to the patient set it back to normal).
   * Urgent conversations come first in the list.
   */
  priority: StaffPriority;
  /** The urgent rule's short reason (null when normal). */
  priorityReason: string | null;
  /**
   * When the newest message that may revoke consent in plain words reached staff ("wrong
   * number", "leave me alone"): staff should check and opt the number out if so. Null: none.
   */
  possibleOptOutAt: Date | null;
}

/** One inbound message that reaches staff (routed by a rule, unknown number, over the rate limit). */
export interface RoutedMessage {
  clinicId: string;
  phone: string;
  clinicNumber: string;
  messageSid: string;
  at: Date;
  body: string;
  /** How many media items came with it. */
  media?: number;
  patients: PatientName[];
  /** urgent makes the conversation urgent (a normal message never makes it normal again). */
  priority?: StaffPriority;
  priorityReason?: string;
  /** The message may revoke consent in plain words: the conversation is marked as a possible opt-out. */
  possibleOptOut?: true;
}

export type DeliveryStatus =
  | 'sending-requested'
  | 'queued'
  | 'accepted'
  | 'scheduled'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'failed'
  | 'read'
  | 'canceled';

/**
 * Where a delivery status stands: callbacks may arrive out of order (Twilio sends `sent`
 * and `delivered` moments apart), so a status only ever replaces one of a lower rank, and
 * a final status is final (see advancesDelivery).
 */
export const DELIVERY_RANK: Readonly<Record<DeliveryStatus, number>> = {
  'sending-requested': 0,
  queued: 1,
  accepted: 1,
  scheduled: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
  canceled: 4,
  read: 5,
};

/**
 * Statuses after which Twilio reports nothing new about the text. Only `read` may follow
 * `delivered` (a read receipt implies delivery); a `failed` or `undelivered` arriving after
 * `delivered` is kept in the history but does not replace it.
 */
export const FINAL_DELIVERY_STATUSES: readonly DeliveryStatus[] = ['delivered', 'undelivered', 'failed', 'canceled', 'read'];

/**
 * The statuses a report of `next` may replace: lower rank, and not final (except `delivered`
 * before `read`). The stores turn this into their conditional update.
 */
export function replaceableBy(next: DeliveryStatus): { belowRank: number; notIn: DeliveryStatus[] } {
  return { belowRank: DELIVERY_RANK[next], notIn: FINAL_DELIVERY_STATUSES.filter((s) => !(s === 'delivered' && next === 'read')) };
}

/** True when a report of `next` moves `current` forward (see replaceableBy). */
export function advancesDelivery(current: Delivery | undefined, next: Delivery): boolean {
  if (!current) {
    return true;
  }
  const rule = replaceableBy(next.status);
  return current.rank < rule.belowRank && !rule.notIn.includes(current.status);
}

/**
 * Which delivery report may touch which text: its SID, and only texts of the clinics whose
 * token verified the callback, sent from the account the callback names.
 */
export interface DeliveryMatch {
  twilioSid: string;
  clinicIds: readonly string[];
  accountSid: string;
}

/** How many delivery reports an outbound text keeps, the first ones (Twilio sends a handful per text; FerretDB ignores `$slice`, so the cap is a filter). */
export const DELIVERY_HISTORY_MAX = 20;

/** The delivery state of an outbound text, stored so that a larger value is a later state. */
export interface Delivery {
  rank: number;
  status: DeliveryStatus;
  at: Date;
  errorCode?: string;
}

/**
 * A staff note (never sent), an outbound text, or an activity line ("resolved by Maria": who
 * changed the conversation, as Chatwoot's activity messages), kept in `conversationEntries`.
 */
export interface StaffEntry {
  /** Opaque public id. */
  id: string;
  conversationId: string;
  clinicId: string;
  kind: 'note' | 'outbound' | 'activity';
  text: string;
  at: Date;
  /** Who wrote it: the API key's id, or the signed-in person's email (staff pages). */
  author: string;
  /** The person's name as shown in the thread (staff pages); absent for API keys. */
  authorName?: string;
  /** Outbound only: Twilio's Message SID once Twilio took the message. */
  twilioSid?: string;
  /** Outbound only: the Twilio account it was sent from (delivery reports must name it). Absent on texts sent before it was kept. */
  accountSid?: string;
  /** Outbound only: where delivery stands now. */
  delivery?: Delivery;
  /** Outbound only: Twilio's answer and every matched delivery report, in arrival order (the first DELIVERY_HISTORY_MAX). */
  deliveryHistory?: Delivery[];
  /**
   * Outbound only, while Twilio's answer is not recorded: until when the request that stored it
   * owns the send. Past it, a retry with the same Idempotency-Key may take over (SEND_LEASE_MS).
   */
  leaseUntil?: Date;
  /** Outbound only: the Idempotency-Key's digest and the request's text digest, for replays. */
  idempotency?: { key: string; request: string };
}

/**
 * How long a stored reply belongs to the request sending it: longer than Twilio's request
 * timeout (10 s), so a live send is never taken over; short enough that a crash does not keep
 * its Idempotency-Key answering "in progress" for long. Entries stored before leases were kept
 * count from their `at`.
 */
export const SEND_LEASE_MS = 60_000;

/**
 * The list's sort position. Urgent first in either order; then `recent`: newest activity
 * first, then id; `waiting`: longest waiting first (`queueAt`, the waitingSince of those
 * that wait, QUEUE_END for the rest), then newest activity, then id.
 */
export interface ListPosition {
  urgent: boolean;
  at: Date;
  id: string;
  /** Present in the `waiting` order only. */
  queueAt?: Date;
}

/** Where the conversations nothing waits on sort in the `waiting` order: after every waiting one. */
export const QUEUE_END = new Date('9999-12-31T00:00:00Z');

/** The queue position of a conversation in the `waiting` order. */
export function queueAt(c: Pick<Conversation, 'waitingSince'>): Date {
  return c.waitingSince ?? QUEUE_END;
}

export const LIST_ORDERS = ['recent', 'waiting'] as const;
export type ListOrder = (typeof LIST_ORDERS)[number];

/** Where a conversation stands in the list's order (`waiting`: with its queue position). */
export function listPosition(c: Pick<Conversation, 'priority' | 'last' | 'id' | 'waitingSince'>, order: ListOrder = 'recent'): ListPosition {
  return { urgent: c.priority === 'urgent', at: c.last.at, id: c.id, ...(order === 'waiting' ? { queueAt: queueAt(c) } : {}) };
}

/**
 * The list's order: urgent first, then (positions with queueAt: the `waiting` order) the
 * longest waiting, then newest activity, then id descending (negative: `a` comes first).
 */
export function compareListPositions(a: ListPosition, b: ListPosition): number {
  return (
    Number(b.urgent) - Number(a.urgent) ||
    (a.queueAt?.getTime() ?? 0) - (b.queueAt?.getTime() ?? 0) ||
    b.at.getTime() - a.at.getTime() ||
    (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
  );
}

/** What the list is narrowed to (all given parts must hold). */
export interface ListFilter {
  clinicId: string;
  /** A string: that assignee's; null: the unassigned ones. */
  assignee?: string | null;
  /** The conversation of this phone (E.164). */
  phone?: string;
  /** Conversations with a patient whose name contains this (any case). */
  name?: string;
  /** A snoozed conversation whose snoozedUntil has passed counts as open. */
  now: Date;
}

/** What changed on a conversation last, as the live streams name it (Chatwoot's event names). */
export const CHANGE_KINDS = ['message.created', 'message.updated', 'conversation.status_changed', 'assignee.changed', 'conversation.updated'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** A conversation as the live poller sees it: when it last changed (the writing instance's clock) and how. */
export interface ChangedConversation {
  /**
   * Which conversation: its ids only. The live poller sends ids (never PHI) and re-reads its
   * overlap window every look, so a change costs no copy or transfer of the conversation.
   */
  conversation: Pick<Conversation, 'id' | 'clinicId'>;
  changedAt: Date;
  change: ChangeKind;
}

export interface ListQuery extends ListFilter {
  status?: ConversationStatus;
  /** Default `recent`. */
  order?: ListOrder;
  limit: number;
  /** Only conversations after this position (the cursor). */
  after?: ListPosition;
}

/** What staff may change on a conversation; absent keys stay as they are. */
export interface ConversationChange {
  status?: ConversationStatus;
  snoozedUntil?: Date | null;
  assignee?: string | null;
  /** Staff answered: nothing is waiting any more, and an urgent conversation is normal again. */
  answered?: boolean;
  /** The activity this change is (replies and notes); kept only if newer than the current one. */
  last?: LastActivity;
  /** How the live streams name this change (default `conversation.updated`). */
  change?: ChangeKind;
}

/** The status staff see: a snooze whose time has passed is open again (as Chatwoot does). */
export function effectiveStatus(c: Pick<Conversation, 'status' | 'snoozedUntil'>, now: Date): ConversationStatus {
  return c.status === 'snoozed' && c.snoozedUntil !== null && c.snoozedUntil <= now ? 'open' : c.status;
}

/** A short preview of a text for the list. */
export function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > PREVIEW_LENGTH ? `${flat.slice(0, PREVIEW_LENGTH - 1)}…` : flat;
}

/** The key that makes an outbound entry idempotent per clinic (else its own id). */
export function entryKey(entry: StaffEntry): string {
  return entry.idempotency ? `idem:${entry.clinicId}:${entry.idempotency.key}` : entry.id;
}
