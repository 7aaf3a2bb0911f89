import type { MessageRecord } from '../domain.js';
import type { ChangedConversation, Conversation, ConversationChange, ConversationStatus, Delivery, DeliveryMatch, ListFilter, ListPosition, ListQuery, PatientName, RoutedMessage, StaffEntry } from './conversation.js';

export type AddEntryResult = { added: true } | { added: false; existing: StaffEntry };

/**
 * The conversations feature's own store part. Adapters: memory-conversation-store.ts
 * (embedded) and mongo-conversation-store.ts (production); both pass
 * test/contract/conversation-store.contract.ts. Returns plain objects the caller may keep.
 */
/** A change's place in the order changedSince reads in. */
export interface ChangeKey {
  changedAt: Date;
  id: string;
}

export interface ConversationStore {
  /** Creates indexes; on MongoDB also moves the legacy `inbox` collection's items into conversations (once). Safe to call again. */
  init(): Promise<void>;
  /**
   * The message-pipeline write, one database command: creates the conversation of
   * clinic + phone (with `newId`) or updates it: status open (reopening a resolved,
   * pending or snoozed one), waitingSince the earlier of its value and the message's
   * time, `last` the newer of the two, patients and clinic number refreshed. Replaying
   * the same message changes nothing more.
   */
  recordRouted(message: RoutedMessage, newId: string): Promise<void>;
  get(clinicId: string, id: string): Promise<Conversation | null>;
  /** The id of the conversation of clinic + phone, or null. */
  conversationIdFor(clinicId: string, phone: string): Promise<string | null>;
  /**
   * In the query's order (`recent`: newest activity first, then id, descending; `waiting`:
   * longest waiting first, see ListPosition); `status` open includes snoozes that ran out.
   */
  list(query: ListQuery): Promise<{ conversations: Conversation[]; next: ListPosition | null }>;
  /** How many conversations of the filter each (effective) status has. */
  counts(filter: ListFilter): Promise<Record<ConversationStatus, number>>;
  /** Applies a staff change (and marks the conversation changed, even for an empty change); null when the clinic has no such conversation. */
  update(clinicId: string, id: string, change: ConversationChange, now: Date): Promise<Conversation | null>;
  /**
   * The conversation of clinic + phone, created (open, nothing waiting, with `newId`) when
   * there is none: staff start a conversation with a patient who has not texted.
   */
  ensure(start: { clinicId: string; phone: string; clinicNumber: string; patients: PatientName[]; at: Date }, newId: string): Promise<{ conversation: Conversation; created: boolean }>;
  /**
   * Conversations of every clinic that changed at or after `since` (by the writer's clock),
   * in (change time, id) order, at most `limit`, and only those after `after` in that order
   * when given (the next page: a burst of more than `limit` changes in one millisecond or one
   * look is read in full): what the live poller of each instance reads.
   */
  changedSince(since: Date, limit: number, after?: ChangeKey): Promise<ChangedConversation[]>;
  /** Records that `reader` saw the conversation up to `at` (the mark only moves forward). */
  markRead(reader: string, conversationId: string, at: Date): Promise<void>;
  /** The reader's marks of these conversations (absent: never read). */
  readMarks(reader: string, conversationIds: readonly string[]): Promise<Map<string, Date>>;

  /** Adds a note or outbound text; an entry whose idempotency key is taken is not added, and the existing one comes back. */
  addEntry(entry: StaffEntry): Promise<AddEntryResult>;
  /** Records Twilio's answer for an outbound entry (its SID, and the status, also into the delivery history). */
  markSent(entryId: string, twilioSid: string, delivery: Delivery): Promise<void>;
  /**
   * Takes over a pending outbound entry (no SID yet) whose lease ran out by `now` (or, without
   * a lease, that is older than SEND_LEASE_MS): sets its lease to `until`. False when it has a
   * SID, is leased, or is gone: one caller wins.
   */
  claimPending(entryId: string, now: Date, until: Date): Promise<boolean>;
  /** Ends a pending entry's lease at `at` (Twilio did not answer: a retry may resolve it from then). */
  releasePending(entryId: string, at: Date): Promise<void>;
  /** Drops an outbound entry Twilio refused (so the same Idempotency-Key may try again). */
  removeEntry(entryId: string): Promise<void>;
  /**
   * A delivery report for the entry `match` names (its SID, one of its clinics, its account;
   * an entry without an accountSid matches on SID and clinic): appends the report to the
   * entry's delivery history, and moves its delivery state forward only (advancesDelivery:
   * never back, and a final status stays). Null when no entry matches.
   */
  updateDelivery(match: DeliveryMatch, delivery: Delivery): Promise<StaffEntry | null>;
  /** The newest `limit` notes and outbound texts of a conversation, oldest first. */
  entries(conversationId: string, limit: number): Promise<StaffEntry[]>;
  /** The newest `limit` audit records of inbound messages from the phone, oldest first. */
  inboundMessages(clinicId: string, phone: string, limit: number): Promise<MessageRecord[]>;
}
