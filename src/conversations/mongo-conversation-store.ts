import type { Collection, Db, Filter } from 'mongodb';
import type { MessageRecord } from '../domain.js';
import { COLLECTIONS, docToMessage, isDuplicateKey, storeOperation, type MessageDoc } from '../store/mongo-kit.js';
import {
  advancesDelivery,
  CONVERSATION_STATUSES,
  DELIVERY_HISTORY_MAX,
  SEND_LEASE_MS,
  QUEUE_END,
  entryKey,
  listPosition,
  preview,
  replaceableBy,
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
import { newId } from './conversation-service.js';
import { migrateLegacyInbox } from './migrate-inbox.js';

export const CONVERSATION_COLLECTIONS = { conversations: 'conversations', entries: 'conversationEntries', reads: 'conversationReads' } as const;

/**
 * A conversation as stored: `_id` is clinic + phone (so the pipeline's upsert needs no
 * look-up), `waitingSince` absent when nothing waits (so `$min` can set it). `queueAt` is
 * waitingSince, or QUEUE_END when nothing waits: the `waiting` order's sort key (absent
 * waitingSince would sort first). `changedAt`/`change`: the last write, for the live poller.
 */
interface ConversationDoc extends Omit<Conversation, 'waitingSince'> {
  _id: string;
  waitingSince?: Date;
  queueAt?: Date;
  changedAt?: Date;
  change?: ChangeKind;
}

interface ReadDoc {
  _id: string;
  reader: string;
  conversationId: string;
  at: Date;
}

/** Escapes a text for use inside a regular expression. */
const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface EntryDoc extends StaffEntry {
  _id: string;
}

export interface MongoConversationStoreOptions {
  /** Server-side limit of each query. */
  maxTimeMS?: number;
}

function toConversation(doc: ConversationDoc): Conversation {
  const { _id: _ignored, waitingSince, queueAt: _queue, changedAt: _changedAt, change: _change, ...rest } = doc;
  // FerretDB may leave out a null written by $setOnInsert: absent reads as null.
  return {
    ...rest,
    assignee: rest.assignee ?? null,
    snoozedUntil: rest.snoozedUntil ?? null,
    waitingSince: waitingSince ?? null,
    priority: rest.priority === 'urgent' ? 'urgent' : 'normal',
    priorityReason: rest.priority === 'urgent' ? (rest.priorityReason ?? null) : null,
    possibleOptOutAt: rest.possibleOptOutAt ?? null,
  };
}

function toEntry(doc: EntryDoc): StaffEntry {
  const { _id: _ignored, ...rest } = doc;
  return rest;
}

/**
 * The production adapter. Every method is one command (two for addEntry's replay), so the
 * pipeline's write costs what the old inbox insert did. Runs on MongoDB-compatible
 * servers without transactions (FerretDB): `$min`/`$max` on dates and subdocuments only.
 */
export class MongoConversationStore implements ConversationStore {
  private readonly db: Db;
  private readonly maxTimeMS: number;

  /**
   * @param db - the backend's database
   * @param options - the server-side limit of each query
   */
  constructor(db: Db, options: MongoConversationStoreOptions = {}) {
    this.db = db;
    this.maxTimeMS = options.maxTimeMS ?? 2000;
  }

  private get conversations(): Collection<ConversationDoc> {
    return this.db.collection<ConversationDoc>(CONVERSATION_COLLECTIONS.conversations);
  }

  private get staffEntries(): Collection<EntryDoc> {
    return this.db.collection<EntryDoc>(CONVERSATION_COLLECTIONS.entries);
  }

  private get reads(): Collection<ReadDoc> {
    return this.db.collection<ReadDoc>(CONVERSATION_COLLECTIONS.reads);
  }


  async init(): Promise<void> {
    await storeOperation('conversations.init', async () => {
      await this.conversations.createIndex({ id: 1 }, { name: 'id_unique', unique: true });
      await this.conversations.createIndex({ clinicId: 1, 'last.at': -1, id: -1 }, { name: 'clinic_last' });
      await this.conversations.createIndex({ clinicId: 1, status: 1, 'last.at': -1, id: -1 }, { name: 'clinic_status_last' });
      // The list's order: urgent first (priority "urgent" sorts above "normal"), then newest.
      await this.conversations.createIndex({ clinicId: 1, priority: -1, 'last.at': -1, id: -1 }, { name: 'clinic_priority_last' });
      await this.conversations.createIndex({ clinicId: 1, status: 1, priority: -1, 'last.at': -1, id: -1 }, { name: 'clinic_status_priority_last' });
      // Conversations written before priorities existed: normal (a missing field would sort after every normal one).
      await this.conversations.updateMany({ priority: { $exists: false } }, { $set: { priority: 'normal', priorityReason: null } });
      // The staff pages' order (urgent, then longest waiting first) in each view: all, unassigned / one person's.
      await this.conversations.createIndex({ clinicId: 1, status: 1, priority: -1, queueAt: 1, 'last.at': -1, id: -1 }, { name: 'clinic_status_priority_queue' });
      await this.conversations.createIndex({ clinicId: 1, assignee: 1, status: 1, priority: -1, queueAt: 1, 'last.at': -1, id: -1 }, { name: 'clinic_assignee_status_priority_queue' });
      await this.conversations.createIndex({ changedAt: 1 }, { name: 'changedAt' });
      await this.reads.createIndex({ reader: 1, conversationId: 1 }, { name: 'reader_conversation' });
      await this.addQueuePositions();
      await this.staffEntries.createIndex({ id: 1 }, { name: 'id_unique', unique: true });
      await this.staffEntries.createIndex({ conversationId: 1, at: -1, id: -1 }, { name: 'conversation_at' });
      await this.staffEntries.createIndex({ twilioSid: 1 }, { name: 'twilioSid' });
      // The thread reads the audit records of one sender instead of copying them.
      await this.db.collection(COLLECTIONS.messages).createIndex({ clinicId: 1, 'message.from': 1, receivedAt: -1 }, { name: 'clinic_from_receivedAt' });
      // Conversations replaced the write-only `inbox`: what it still holds moves over, once.
      await migrateLegacyInbox(this.db, this, () => newId('cv'), new Date());
    });
  }

  async recordRouted(message: RoutedMessage, newId: string): Promise<void> {
    await storeOperation('conversations.recordRouted', async () => {
      await this.conversations.updateOne(
        { _id: `${message.clinicId}:${message.phone}` },
        {
          $setOnInsert: {
            id: newId,
            clinicId: message.clinicId,
            phone: message.phone,
            assignee: null,
            createdAt: message.at,
            ...(message.priority === 'urgent' ? {} : { priority: 'normal', priorityReason: null }),
          },
          $set: {
            status: 'open',
            snoozedUntil: null,
            clinicNumber: message.clinicNumber,
            patients: message.patients,
            // An urgent message makes the conversation urgent; a normal one leaves it as it is.
            ...(message.priority === 'urgent' ? { priority: 'urgent', priorityReason: message.priorityReason ?? null } : {}),
            changedAt: new Date(),
            change: 'message.created',
          },
          $min: { waitingSince: message.at, queueAt: message.at },
          // Key order matters: documents compare field by field, so the later `at` wins.
          $max: {
            last: { at: message.at, direction: 'inbound', preview: preview(message.body), ...(message.media ? { media: message.media } : {}) },
            // A message that may revoke consent in plain words marks the conversation (the newest such time).
            ...(message.possibleOptOut ? { possibleOptOutAt: message.at } : {}),
          },
        },
        { upsert: true, maxTimeMS: this.maxTimeMS },
      );
    });
  }

  async conversationIdFor(clinicId: string, phone: string): Promise<string | null> {
    return storeOperation('conversations.conversationIdFor', async () => {
      const doc = await this.conversations.findOne({ _id: `${clinicId}:${phone}` }, { projection: { id: 1 }, maxTimeMS: this.maxTimeMS });
      return doc?.id ?? null;
    });
  }

  async get(clinicId: string, id: string): Promise<Conversation | null> {
    return storeOperation('conversations.get', async () => {
      const doc = await this.conversations.findOne({ id, clinicId }, { maxTimeMS: this.maxTimeMS });
      return doc ? toConversation(doc) : null;
    });
  }

  /** The filter's conditions (status aside). */
  private filterOf(filter: ListFilter): Filter<ConversationDoc>[] {
    const and: Filter<ConversationDoc>[] = [{ clinicId: filter.clinicId }];
    if (filter.assignee !== undefined) {
      // FerretDB may leave out a null written by $setOnInsert: { assignee: null } matches absent too.
      and.push({ assignee: filter.assignee });
    }
    if (filter.phone !== undefined) {
      and.push({ phone: filter.phone });
    }
    if (filter.name !== undefined) {
      and.push({ 'patients.displayName': { $regex: escapeRegex(filter.name), $options: 'i' } });
    }
    return and;
  }

  async counts(filter: ListFilter): Promise<Record<ConversationStatus, number>> {
    return storeOperation('conversations.counts', async () => {
      const counts = Object.fromEntries(CONVERSATION_STATUSES.map((s) => [s, 0])) as Record<ConversationStatus, number>;
      // One command by stored status ($cond is not in FerretDB 1.24), and a second only when
      // something is snoozed: those whose time ran out count as open.
      const match = { $and: this.filterOf(filter) };
      const rows = await this.conversations
        .aggregate<{ _id: ConversationStatus; n: number }>([{ $match: match }, { $group: { _id: '$status', n: { $sum: 1 } } }], { maxTimeMS: this.maxTimeMS })
        .toArray();
      for (const row of rows) {
        if (row._id in counts) {
          counts[row._id] += row.n;
        }
      }
      if (counts.snoozed > 0) {
        const due = await this.conversations.countDocuments({ $and: [...this.filterOf(filter), { status: 'snoozed', snoozedUntil: { $lte: filter.now } }] }, { maxTimeMS: this.maxTimeMS });
        counts.snoozed -= due;
        counts.open += due;
      }
      return counts;
    });
  }

  async list(query: ListQuery): Promise<{ conversations: Conversation[]; next: ListPosition | null }> {
    const and = this.filterOf(query);
    if (query.status === 'open') {
      and.push({ $or: [{ status: 'open' }, { status: 'snoozed', snoozedUntil: { $lte: query.now } }] });
    } else if (query.status === 'snoozed') {
      and.push({ status: 'snoozed', snoozedUntil: { $gt: query.now } });
    } else if (query.status !== undefined) {
      and.push({ status: query.status });
    }
    const waiting = query.order === 'waiting';
    if (query.after) {
      const { urgent, at, id, queueAt } = query.after;
      const later: Filter<ConversationDoc> = { $or: [{ 'last.at': { $lt: at } }, { 'last.at': at, id: { $lt: id } }] };
      // In the waiting order, within one priority: later in the queue, or the same place and later.
      const within: Filter<ConversationDoc> = waiting && queueAt ? { $or: [{ queueAt: { $gt: queueAt } }, { $and: [{ queueAt }, later] }] } : later;
      // After an urgent position: the rest of the urgent ones, then every normal one.
      and.push(urgent ? { $or: [{ priority: { $ne: 'urgent' } }, { $and: [{ priority: 'urgent' }, within] }] } : { $and: [{ priority: { $ne: 'urgent' } }, within] });
    }
    return storeOperation('conversations.list', async () => {
      const docs = await this.conversations
        .find({ $and: and }, { maxTimeMS: this.maxTimeMS })
        .sort(waiting ? { priority: -1, queueAt: 1, 'last.at': -1, id: -1 } : { priority: -1, 'last.at': -1, id: -1 })
        .limit(query.limit + 1)
        .toArray();
      const page = docs.slice(0, query.limit).map(toConversation);
      const end = docs.length > query.limit ? docs[query.limit - 1] : undefined;
      return { conversations: page, next: end ? { ...listPosition(toConversation(end)), ...(waiting ? { queueAt: end.queueAt ?? QUEUE_END } : {}) } : null };
    });
  }

  async update(clinicId: string, id: string, change: ConversationChange, _now: Date): Promise<Conversation | null> {
    const set: Record<string, unknown> = {};
    if (change.status !== undefined) {
      set.status = change.status;
    }
    if (change.snoozedUntil !== undefined) {
      set.snoozedUntil = change.snoozedUntil;
    }
    if (change.assignee !== undefined) {
      set.assignee = change.assignee;
    }
    set.changedAt = new Date();
    set.change = change.change ?? 'conversation.updated';
    const update: Record<string, unknown> = {};
    if (change.answered) {
      update.$unset = { waitingSince: '' };
      set.queueAt = QUEUE_END;
      set.priority = 'normal';
      set.priorityReason = null;
    }
    update.$set = set;
    if (change.last) {
      update.$max = { last: { at: change.last.at, direction: change.last.direction, preview: change.last.preview, ...(change.last.media ? { media: change.last.media } : {}) } };
    }
    return storeOperation('conversations.update', async () => {
      const doc = await this.conversations.findOneAndUpdate({ id, clinicId }, update, { returnDocument: 'after', maxTimeMS: this.maxTimeMS });
      return doc ? toConversation(doc) : null;
    });
  }

  async ensure(start: { clinicId: string; phone: string; clinicNumber: string; patients: PatientName[]; at: Date }, newId: string): Promise<{ conversation: Conversation; created: boolean }> {
    return storeOperation('conversations.ensure', async () => {
      const doc = await this.conversations.findOneAndUpdate(
        { _id: `${start.clinicId}:${start.phone}` },
        {
          $setOnInsert: {
            id: newId,
            clinicId: start.clinicId,
            phone: start.phone,
            clinicNumber: start.clinicNumber,
            status: 'open',
            snoozedUntil: null,
            assignee: null,
            queueAt: QUEUE_END,
            priority: 'normal',
            priorityReason: null,
            last: { at: start.at, direction: 'note', preview: '' },
            patients: start.patients,
            createdAt: start.at,
            changedAt: new Date(),
            change: 'conversation.updated',
          },
        },
        { upsert: true, returnDocument: 'after', maxTimeMS: this.maxTimeMS },
      );
      if (!doc) {
        throw new Error('conversations.ensure: upsert returned nothing');
      }
      return { conversation: toConversation(doc), created: doc.id === newId };
    });
  }

  async changedSince(since: Date, limit: number, after?: ChangeKey): Promise<ChangedConversation[]> {
    return storeOperation('conversations.changedSince', async () => {
      // (changedAt, id) keyset: the changedAt index gives the range and order; ties are few.
      const filter: Filter<ConversationDoc> = after
        ? { changedAt: { $gte: since }, $or: [{ changedAt: { $gt: after.changedAt } }, { changedAt: after.changedAt, id: { $gt: after.id } }] }
        : { changedAt: { $gte: since } };
      const docs = await this.conversations
        .find(filter, { projection: { _id: 0, id: 1, clinicId: 1, changedAt: 1, change: 1 }, maxTimeMS: this.maxTimeMS })
        .sort({ changedAt: 1, id: 1 })
        .limit(limit)
        .toArray();
      return docs.map((doc) => ({ conversation: { id: doc.id, clinicId: doc.clinicId }, changedAt: doc.changedAt ?? since, change: doc.change ?? 'conversation.updated' }));
    });
  }

  async markRead(reader: string, conversationId: string, at: Date): Promise<void> {
    await storeOperation('conversations.markRead', async () => {
      await this.reads.updateOne({ _id: `${reader}\n${conversationId}` }, { $setOnInsert: { reader, conversationId }, $max: { at } }, { upsert: true, maxTimeMS: this.maxTimeMS });
    });
  }

  async readMarks(reader: string, conversationIds: readonly string[]): Promise<Map<string, Date>> {
    if (conversationIds.length === 0) {
      return new Map();
    }
    return storeOperation('conversations.readMarks', async () => {
      const docs = await this.reads.find({ reader, conversationId: { $in: [...conversationIds] } }, { maxTimeMS: this.maxTimeMS }).toArray();
      return new Map(docs.map((d) => [d.conversationId, d.at]));
    });
  }

  /** Gives conversations written before the `waiting` order their queue position (once; a few documents at most). */
  private async addQueuePositions(): Promise<void> {
    await this.conversations.updateMany({ queueAt: { $exists: false }, waitingSince: { $exists: false } }, { $set: { queueAt: QUEUE_END } });
    const waiting = await this.conversations.find({ queueAt: { $exists: false } }, { projection: { _id: 1, waitingSince: 1 } }).toArray();
    for (const doc of waiting) {
      await this.conversations.updateOne({ _id: doc._id, queueAt: { $exists: false } }, { $set: { queueAt: doc.waitingSince ?? QUEUE_END } });
    }
  }

  async addEntry(entry: StaffEntry): Promise<AddEntryResult> {
    const _id = entryKey(entry);
    return storeOperation('conversations.addEntry', async () => {
      try {
        await this.staffEntries.insertOne({ ...entry, _id });
        return { added: true };
      } catch (err) {
        if (!isDuplicateKey(err)) {
          throw err;
        }
        const existing = await this.staffEntries.findOne({ _id }, { maxTimeMS: this.maxTimeMS });
        if (!existing) {
          throw err;
        }
        return { added: false, existing: toEntry(existing) };
      }
    });
  }

  async markSent(entryId: string, twilioSid: string, delivery: Delivery): Promise<void> {
    await storeOperation('conversations.markSent', async () => {
      // No report can have matched yet (they find the entry by its SID): the state is set as is.
      await this.staffEntries.updateOne({ id: entryId }, { $set: { twilioSid, delivery: deliveryDoc(delivery) }, $unset: { leaseUntil: '' }, $push: { deliveryHistory: deliveryDoc(delivery) } }, { maxTimeMS: this.maxTimeMS });
    });
  }

  async claimPending(entryId: string, now: Date, until: Date): Promise<boolean> {
    return storeOperation('conversations.claimPending', async () => {
      const claimed = await this.staffEntries.updateOne(
        {
          id: entryId,
          twilioSid: { $exists: false },
          $or: [{ leaseUntil: { $lte: now } }, { leaseUntil: { $exists: false }, at: { $lte: new Date(now.getTime() - SEND_LEASE_MS) } }],
        },
        { $set: { leaseUntil: until } },
        { maxTimeMS: this.maxTimeMS },
      );
      return claimed.modifiedCount === 1;
    });
  }

  async releasePending(entryId: string, at: Date): Promise<void> {
    await storeOperation('conversations.releasePending', async () => {
      await this.staffEntries.updateOne({ id: entryId, twilioSid: { $exists: false } }, { $set: { leaseUntil: at } }, { maxTimeMS: this.maxTimeMS });
    });
  }

  async removeEntry(entryId: string): Promise<void> {
    await storeOperation('conversations.removeEntry', async () => {
      await this.staffEntries.deleteOne({ id: entryId }, { maxTimeMS: this.maxTimeMS });
    });
  }

  async updateDelivery(match: DeliveryMatch, delivery: Delivery): Promise<StaffEntry | null> {
    const filter: Filter<EntryDoc> = { twilioSid: match.twilioSid, clinicId: { $in: [...match.clinicIds] }, $or: [{ accountSid: match.accountSid }, { accountSid: { $exists: false } }] };
    const d = deliveryDoc(delivery);
    return storeOperation('conversations.updateDelivery', async () => {
      // The history first (capped by a filter: FerretDB ignores $slice), then the state, only forward.
      const doc =
        (await this.staffEntries.findOneAndUpdate(
          { ...filter, [`deliveryHistory.${DELIVERY_HISTORY_MAX - 1}`]: { $exists: false } },
          { $push: { deliveryHistory: d } },
          { returnDocument: 'after', maxTimeMS: this.maxTimeMS },
        )) ?? (await this.staffEntries.findOne(filter, { maxTimeMS: this.maxTimeMS }));
      if (!doc) {
        return null;
      }
      if (advancesDelivery(doc.delivery, d)) {
        const rule = replaceableBy(d.status);
        const moved = await this.staffEntries.updateOne(
          { _id: doc._id, 'delivery.rank': { $lt: rule.belowRank }, 'delivery.status': { $nin: rule.notIn } },
          { $set: { delivery: d } },
          { maxTimeMS: this.maxTimeMS },
        );
        if (moved.modifiedCount === 1) {
          doc.delivery = d;
        }
      }
      return toEntry(doc);
    });
  }

  async entries(conversationId: string, limit: number): Promise<StaffEntry[]> {
    return storeOperation('conversations.entries', async () => {
      const docs = await this.staffEntries.find({ conversationId }, { maxTimeMS: this.maxTimeMS }).sort({ at: -1, id: -1 }).limit(limit).toArray();
      return docs.reverse().map(toEntry);
    });
  }

  async inboundMessages(clinicId: string, phone: string, limit: number): Promise<MessageRecord[]> {
    return storeOperation('conversations.inboundMessages', async () => {
      const docs = await this.db
        .collection<MessageDoc>(COLLECTIONS.messages)
        .find({ clinicId, 'message.from': phone }, { maxTimeMS: this.maxTimeMS })
        .sort({ receivedAt: -1, messageSid: -1 })
        .limit(limit)
        .toArray();
      return docs.reverse().map(docToMessage);
    });
  }
}

/** A delivery as stored: the fields in one order, without undefined ones. */
function deliveryDoc(d: Delivery): Delivery {
  return d.errorCode === undefined ? { rank: d.rank, status: d.status, at: d.at } : { rank: d.rank, status: d.status, at: d.at, errorCode: d.errorCode };
}
