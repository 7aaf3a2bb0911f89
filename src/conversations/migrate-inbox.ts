import type { Db } from 'mongodb';
import type { Patient } from '../domain.js';
import { COLLECTIONS } from '../store/mongo-kit.js';
import type { ConversationStore } from './conversation-store.js';
import { displayName } from './staff-routing.js';

/** The collection the pipeline wrote routed messages to before conversations replaced it. */
export const LEGACY_INBOX = 'inbox';

/** An item of the legacy `inbox` collection, as the store wrote it; `migratedAt` is set once it is in a conversation. */
interface LegacyInboxDoc {
  _id: string;
  clinicId: string;
  messageSid: string;
  from: string;
  patientIds: string[];
  body: string;
  createdAt: Date;
  status: 'open' | 'done';
  migratedAt?: Date;
}

const BATCH = 500;

/**
 * Moves what the legacy `inbox` holds into conversations, once: each open item is routed
 * to its sender's conversation as the pipeline routes a message now (oldest first, so
 * waitingSince is the oldest open item), then marked `migratedAt`. Items marked `done` are
 * only marked: staff had handled them (their messages stay in the threads, which read the
 * audit records). The collection is left in place, and a later start finds nothing left to
 * move, however many instances start at once (routing is an idempotent upsert).
 * @returns how many items were moved
 */
export async function migrateLegacyInbox(db: Db, conversations: Pick<ConversationStore, 'recordRouted'>, newId: () => string, now: Date): Promise<number> {
  const inbox = db.collection<LegacyInboxDoc>(LEGACY_INBOX);
  let moved = 0;
  for (;;) {
    const batch = await inbox.find({ migratedAt: { $exists: false } }).sort({ createdAt: 1, _id: 1 }).limit(BATCH).toArray();
    if (batch.length === 0) {
      return moved;
    }
    const open = batch.filter((item) => item.status !== 'done');
    const [patients, clinicNumbers] = await Promise.all([patientsOf(db, open), clinicNumbersOf(db, open)]);
    for (const item of open) {
      await conversations.recordRouted(
        {
          clinicId: item.clinicId,
          phone: item.from,
          // Unknown when the audit record is gone: replies then go out from the clinic's first number.
          clinicNumber: clinicNumbers.get(senderKey(item)) ?? '',
          messageSid: item.messageSid,
          at: item.createdAt,
          body: item.body,
          patients: item.patientIds.flatMap((id) => {
            const p = patients.get(id);
            return p ? [{ id, displayName: displayName(p) }] : [];
          }),
        },
        newId(),
      );
    }
    await inbox.updateMany({ _id: { $in: batch.map((item) => item._id) } }, { $set: { migratedAt: now } });
    moved += open.length;
  }
}

async function patientsOf(db: Db, items: readonly LegacyInboxDoc[]): Promise<Map<string, Patient>> {
  const ids = [...new Set(items.flatMap((item) => item.patientIds))];
  const docs = ids.length === 0 ? [] : await db.collection<Patient & { _id: string }>(COLLECTIONS.patients).find({ _id: { $in: ids } }).toArray();
  return new Map(docs.map((d) => [d.id, d]));
}

/** The clinic number each sender last texted (from the audit records), by clinic + phone: one look-up a sender, at start only. */
async function clinicNumbersOf(db: Db, items: readonly LegacyInboxDoc[]): Promise<Map<string, string>> {
  const messages = db.collection<{ clinicId: string; receivedAt: Date; message: { from: string; to: string } }>(COLLECTIONS.messages);
  const numbers = new Map<string, string>();
  for (const key of new Set(items.map(senderKey))) {
    const item = items.find((i) => senderKey(i) === key)!;
    const last = await messages.findOne({ clinicId: item.clinicId, 'message.from': item.from }, { sort: { receivedAt: -1 }, projection: { 'message.to': 1 } });
    if (last) {
      numbers.set(key, last.message.to);
    }
  }
  return numbers;
}

const senderKey = (item: Pick<LegacyInboxDoc, 'clinicId' | 'from'>): string => `${item.clinicId}:${item.from}`;
