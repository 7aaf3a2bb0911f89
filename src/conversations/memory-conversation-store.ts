import type { MessageRecord } from '../domain.js';
import type { DroppedMessage } from '../store/memory/memory-store.js';
import type { Store } from '../store/store.js';
import {
  advancesDelivery,
  compareListPositions,
  CONVERSATION_STATUSES,
  DELIVERY_HISTORY_MAX,
  SEND_LEASE_MS,
  effectiveStatus,
  entryKey,
  listPosition,
  preview,
  type ChangeKind,
  type ChangedConversation,
  type Conversation,
  type ConversationChange,
  type ConversationStatus,
  type Delivery,
  type DeliveryMatch,
  type ListFilter,
  type ListPosition,
  type ListQuery,
  type PatientName,
  type RoutedMessage,
  type StaffEntry,
} from './conversation.js';
import type { AddEntryResult, ChangeKey, ConversationStore } from './conversation-store.js';


/** Whether a conversation passes the filter (status aside). */
export function matchesFilter(c: Conversation, filter: ListFilter): boolean {
  if (c.clinicId !== filter.clinicId) {
    return false;
  }
  if (filter.assignee !== undefined && c.assignee !== filter.assignee) {
    return false;
  }
  if (filter.phone !== undefined && c.phone !== filter.phone) {
    return false;
  }
  const name = filter.name?.toLowerCase();
  return name === undefined || c.patients.some((p) => p.displayName.toLowerCase().includes(name));
}

/**
 * The embedded adapter: plain Maps, copies in and out. Inbound messages are read from the
 * main store's audit records (listMessages), filtered by sender: simple beats fast here.
 * Bounded with the main store: a conversation goes with the last message of its sender
 * that the store drops (see forget).
 */
export class MemoryConversationStore implements ConversationStore {
  private readonly conversations = new Map<string, Conversation>();
  private readonly byId = new Map<string, string>();
  private readonly staffEntries = new Map<string, StaffEntry>();
  private readonly changes = new Map<string, { changedAt: Date; change: ChangeKind }>();
  /** Read marks: by conversation id, then by reader. */
  private readonly reads = new Map<string, Map<string, Date>>();

  /** @param messages - the main store, whose audit records hold the inbound messages */
  constructor(private readonly messages: Pick<Store, 'listMessages'>) {}

  async init(): Promise<void> {}

  async recordRouted(message: RoutedMessage, newId: string): Promise<void> {
    const key = `${message.clinicId}:${message.phone}`;
    const current = this.conversations.get(key);
    const next: Conversation = current ?? {
      id: newId,
      clinicId: message.clinicId,
      phone: message.phone,
      clinicNumber: message.clinicNumber,
      status: 'open',
      snoozedUntil: null,
      assignee: null,
      waitingSince: null,
      last: { at: new Date(0), direction: 'inbound', preview: '' },
      patients: [],
      createdAt: message.at,
      priority: 'normal',
      priorityReason: null,
      possibleOptOutAt: null,
    };
    if (message.possibleOptOut && (next.possibleOptOutAt === null || next.possibleOptOutAt < message.at)) {
      next.possibleOptOutAt = message.at;
    }
    if (message.priority === 'urgent') {
      next.priority = 'urgent';
      next.priorityReason = message.priorityReason ?? null;
    }
    next.status = 'open';
    next.snoozedUntil = null;
    next.clinicNumber = message.clinicNumber;
    next.patients = structuredClone(message.patients);
    next.waitingSince = next.waitingSince === null || message.at < next.waitingSince ? message.at : next.waitingSince;
    if (message.at >= next.last.at) {
      next.last = { at: message.at, direction: 'inbound', preview: preview(message.body), ...(message.media ? { media: message.media } : {}) };
    }
    this.conversations.set(key, structuredClone(next));
    this.byId.set(next.id, key);
    this.changed(next.id, 'message.created');
  }

  async ensure(start: { clinicId: string; phone: string; clinicNumber: string; patients: PatientName[]; at: Date }, newId: string): Promise<{ conversation: Conversation; created: boolean }> {
    const key = `${start.clinicId}:${start.phone}`;
    const current = this.conversations.get(key);
    if (current) {
      return { conversation: structuredClone(current), created: false };
    }
    const conversation: Conversation = {
      id: newId,
      clinicId: start.clinicId,
      phone: start.phone,
      clinicNumber: start.clinicNumber,
      status: 'open',
      snoozedUntil: null,
      assignee: null,
      waitingSince: null,
      priority: 'normal',
      priorityReason: null,
      possibleOptOutAt: null,
      last: { at: start.at, direction: 'note', preview: '' },
      patients: structuredClone(start.patients),
      createdAt: start.at,
    };
    this.conversations.set(key, structuredClone(conversation));
    this.byId.set(newId, key);
    this.changed(newId, 'conversation.updated');
    return { conversation, created: true };
  }

  async changedSince(since: Date, limit: number, after?: ChangeKey): Promise<ChangedConversation[]> {
    // Keys first, then the page's ids: a look costs a pass over the change marks, no copies.
    const from = since.getTime();
    const keys: Array<{ id: string; at: number }> = [];
    for (const [id, mark] of this.changes) {
      const at = mark.changedAt.getTime();
      if (at >= from && (after === undefined || at > after.changedAt.getTime() || (at === after.changedAt.getTime() && id > after.id))) {
        keys.push({ id, at });
      }
    }
    keys.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rows: ChangedConversation[] = [];
    for (const { id } of keys) {
      if (rows.length === limit) {
        break;
      }
      const key = this.byId.get(id);
      const conversation = key === undefined ? undefined : this.conversations.get(key);
      const mark = this.changes.get(id);
      if (conversation && mark) {
        rows.push({ conversation: { id: conversation.id, clinicId: conversation.clinicId }, changedAt: mark.changedAt, change: mark.change });
      }
    }
    return rows;
  }

  async markRead(reader: string, conversationId: string, at: Date): Promise<void> {
    let marks = this.reads.get(conversationId);
    if (!marks) {
      marks = new Map();
      this.reads.set(conversationId, marks);
    }
    const current = marks.get(reader);
    if (!current || current < at) {
      marks.set(reader, at);
    }
  }

  async readMarks(reader: string, conversationIds: readonly string[]): Promise<Map<string, Date>> {
    const marks = new Map<string, Date>();
    for (const id of conversationIds) {
      const at = this.reads.get(id)?.get(reader);
      if (at) {
        marks.set(id, at);
      }
    }
    return marks;
  }

  async counts(filter: ListFilter): Promise<Record<ConversationStatus, number>> {
    const counts = Object.fromEntries(CONVERSATION_STATUSES.map((s) => [s, 0])) as Record<ConversationStatus, number>;
    for (const c of this.conversations.values()) {
      if (matchesFilter(c, filter)) {
        counts[effectiveStatus(c, filter.now)] += 1;
      }
    }
    return counts;
  }

  /** Marks a conversation changed now (delete first: the Map keeps the oldest change first). */
  private changed(id: string, change: ChangeKind): void {
    this.changes.delete(id);
    this.changes.set(id, { changedAt: new Date(), change });
  }

  async conversationIdFor(clinicId: string, phone: string): Promise<string | null> {
    return this.conversations.get(`${clinicId}:${phone}`)?.id ?? null;
  }

  async get(clinicId: string, id: string): Promise<Conversation | null> {
    const found = this.find(clinicId, id);
    return found ? structuredClone(found) : null;
  }

  async list(query: ListQuery): Promise<{ conversations: Conversation[]; next: ListPosition | null }> {
    const order = query.order ?? 'recent';
    // The page is picked in one pass that keeps the best `limit` rows in order (each position
    // worked out once): the profile of a 10,000-conversation list page had most of its time
    // in sorting every conversation, with two positions made in each comparison.
    const best: Array<{ c: Conversation; pos: ListPosition }> = [];
    let matching = 0;
    for (const c of this.conversations.values()) {
      if (!matchesFilter(c, query) || (query.status !== undefined && effectiveStatus(c, query.now) !== query.status)) {
        continue;
      }
      const pos = listPosition(c, order);
      if (query.after !== undefined && compareListPositions(query.after, pos) >= 0) {
        continue;
      }
      matching += 1;
      const last = best.at(-1);
      if (best.length === query.limit && last && compareListPositions(pos, last.pos) >= 0) {
        continue;
      }
      let lo = 0;
      let hi = best.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareListPositions(best[mid]!.pos, pos) <= 0) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      best.splice(lo, 0, { c, pos });
      if (best.length > query.limit) {
        best.pop();
      }
    }
    const end = best.at(-1);
    return {
      conversations: structuredClone(best.map((r) => r.c)),
      next: matching > query.limit && end ? end.pos : null,
    };
  }

  async update(clinicId: string, id: string, change: ConversationChange, _now: Date): Promise<Conversation | null> {
    const found = this.find(clinicId, id);
    if (!found) {
      return null;
    }
    if (change.status !== undefined) {
      found.status = change.status;
    }
    if (change.snoozedUntil !== undefined) {
      found.snoozedUntil = change.snoozedUntil;
    }
    if (change.assignee !== undefined) {
      found.assignee = change.assignee;
    }
    if (change.answered) {
      found.waitingSince = null;
      found.priority = 'normal';
      found.priorityReason = null;
    }
    if (change.last && change.last.at >= found.last.at) {
      found.last = structuredClone(change.last);
    }
    this.changed(found.id, change.change ?? 'conversation.updated');
    return structuredClone(found);
  }

  async addEntry(entry: StaffEntry): Promise<AddEntryResult> {
    const key = entryKey(entry);
    const existing = this.staffEntries.get(key);
    if (existing) {
      return { added: false, existing: structuredClone(existing) };
    }
    this.staffEntries.set(key, structuredClone(entry));
    return { added: true };
  }

  async markSent(entryId: string, twilioSid: string, delivery: Delivery): Promise<void> {
    const entry = [...this.staffEntries.values()].find((e) => e.id === entryId);
    if (entry) {
      entry.twilioSid = twilioSid;
      delete entry.leaseUntil;
      applyDelivery(entry, delivery);
    }
  }

  async claimPending(entryId: string, now: Date, until: Date): Promise<boolean> {
    const entry = [...this.staffEntries.values()].find((e) => e.id === entryId);
    if (!entry || entry.twilioSid !== undefined || !leaseOver(entry, now)) {
      return false;
    }
    entry.leaseUntil = until;
    return true;
  }

  async releasePending(entryId: string, at: Date): Promise<void> {
    const entry = [...this.staffEntries.values()].find((e) => e.id === entryId);
    if (entry && entry.twilioSid === undefined) {
      entry.leaseUntil = at;
    }
  }

  async removeEntry(entryId: string): Promise<void> {
    for (const [key, entry] of this.staffEntries) {
      if (entry.id === entryId) {
        this.staffEntries.delete(key);
      }
    }
  }

  async updateDelivery(match: DeliveryMatch, delivery: Delivery): Promise<StaffEntry | null> {
    const entry = [...this.staffEntries.values()].find(
      (e) => e.twilioSid === match.twilioSid && match.clinicIds.includes(e.clinicId) && (e.accountSid === undefined || e.accountSid === match.accountSid),
    );
    if (!entry) {
      return null;
    }
    applyDelivery(entry, delivery);
    return structuredClone(entry);
  }

  async entries(conversationId: string, limit: number): Promise<StaffEntry[]> {
    const all = [...this.staffEntries.values()]
      .filter((e) => e.conversationId === conversationId)
      .sort((a, b) => a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return structuredClone(all.slice(-limit));
  }

  async inboundMessages(clinicId: string, phone: string, limit: number): Promise<MessageRecord[]> {
    const found: MessageRecord[] = [];
    for await (const record of this.messages.listMessages({ clinicId, since: new Date(0), until: new Date(8.64e15) })) {
      if (record.message.from === phone) {
        found.push(record);
      }
    }
    return found.slice(-limit);
  }

  /**
   * The embedded store dropped a message (its bound, MEMORY_STORE_MAX_MESSAGES). When it was
   * the last one from its sender, the sender's conversation goes too, with its staff entries,
   * change and read marks, unless staff wrote in it after that message: what people write is
   * bounded by people, what arrives is not.
   * @param dropped - the message the store let go of
   */
  forget(dropped: DroppedMessage): void {
    if (!dropped.lastOfSender || dropped.clinicId === null) {
      return;
    }
    const key = `${dropped.clinicId}:${dropped.phone}`;
    const conversation = this.conversations.get(key);
    if (!conversation) {
      return;
    }
    const entries = [...this.staffEntries].filter(([, e]) => e.conversationId === conversation.id);
    if (entries.some(([, e]) => e.at > dropped.receivedAt)) {
      return;
    }
    for (const [entryKeyOf] of entries) {
      this.staffEntries.delete(entryKeyOf);
    }
    this.conversations.delete(key);
    this.byId.delete(conversation.id);
    this.changes.delete(conversation.id);
    this.reads.delete(conversation.id);
  }

  private find(clinicId: string, id: string): Conversation | undefined {
    const key = this.byId.get(id);
    const found = key === undefined ? undefined : this.conversations.get(key);
    return found?.clinicId === clinicId ? found : undefined;
  }
}

/** True when a pending entry's lease has run out (see SEND_LEASE_MS). */
function leaseOver(entry: StaffEntry, now: Date): boolean {
  return entry.leaseUntil === undefined ? entry.at.getTime() + SEND_LEASE_MS <= now.getTime() : entry.leaseUntil <= now;
}

/** Appends a delivery report to the entry's history and moves its state forward when the report does (as the MongoDB adapter's conditional update). */
function applyDelivery(entry: StaffEntry, delivery: Delivery): void {
  const history = entry.deliveryHistory ?? [];
  if (history.length < DELIVERY_HISTORY_MAX) {
    entry.deliveryHistory = [...history, structuredClone(delivery)];
  }
  if (advancesDelivery(entry.delivery, delivery)) {
    entry.delivery = structuredClone(delivery);
  }
}
