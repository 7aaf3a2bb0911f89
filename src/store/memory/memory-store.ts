import type {
  Appointment,
  AppointmentStatus,
  AppointmentTransition,
  InboxItem,
  MessageCompletion,
  MessageRecord,
  OptOutRecord,
  Patient,
  SenderState,
} from '../../domain.js';
import { APPOINTMENT_STATUS_RANK } from '../../domain.js';
import type { ClaimResult, MessageQuery, RateWindow, Store, UpsertSummary } from '../store.js';
import { isDeepStrictEqual } from 'node:util';
import { cloneData, keepData } from './clone-data.js';
import { ownString } from './own-string.js';
import { packRecord, unpackRecord } from './packed-record.js';
import { RecordArena } from './record-arena.js';
import { RetentionRing } from './retention-ring.js';
import { ShardedMap } from './sharded-map.js';

const clone = cloneData;
const senderKey = (clinicId: string, phone: string): string => `${clinicId}\u0000${phone}`;

/** How many finished messages the embedded store keeps by default (their inbox items go with them). */
export const DEFAULT_MEMORY_MAX_MESSAGES = 50_000;

/** What the embedded store lets go of to stay within its bound. */
export type DroppedTable = 'messages' | 'inbox';

export interface MemoryStoreOptions {
  /**
   * Finished audit records kept: past it the oldest are dropped, with the staff inbox items
   * their messages made. Messages in flight are never dropped. Default DEFAULT_MEMORY_MAX_MESSAGES.
   */
  maxMessages?: number;
  /** Told of each record or inbox item dropped (a metric). */
  onDrop?: (table: DroppedTable) => void;
}

/** A touchSender in this many sweeps one shard of the rate counters for expired windows. */
const SWEEP_EVERY = 64;

/**
 * The embedded store: everything in process memory, gone at exit. Deep-clones on the
 * way in and out so callers can never change stored state by accident, as the MongoDB
 * adapter cannot either.
 *
 * Its memory is bounded, so a demo left running (or a benchmark) does not grow until the
 * process dies: it keeps the newest `maxMessages` finished audit records and the staff inbox
 * items of those messages, and rate counters only for their window (as the MongoDB TTL index
 * does). Opt-out state and patients are never dropped. Production runs on MongoDB, which
 * keeps everything.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly maxMessages: number;
  private readonly finished: RetentionRing;
  private readonly onDrop: (table: DroppedTable) => void;
  /** The latest rate window seen (its expiry, ms), and where the next sweep of expired counters starts. */
  private latestWindowExpiry = 0;
  private touches = 0;
  private sweepShard = 0;
  // The tables that grow with every message or new sender are sharded (sharded-map.ts): one
  // big Map stalls the event loop each time it grows.
  /** Records in flight as objects, finished ones by their handle in the arena (see keepMessage). */
  private readonly messages = new ShardedMap<MessageRecord | number>();
  private readonly arena = new RecordArena();
  private readonly patients = new Map<string, Patient>();
  private readonly appointments = new Map<string, Appointment>();
  private readonly optOuts = new ShardedMap<OptOutRecord>();
  private readonly rate = new ShardedMap<{ key: string; count: number; expiresAt: Date }>();
  /**
   * Staff inbox items, packed in the arena like finished records, by the MessageSid that made
   * them (one handle, or several): they go when their message's record goes. As objects they
   * were most of what the store's bound turned into old-generation garbage.
   */
  private readonly inbox = new ShardedMap<number | number[]>();
  /** Patient ids by clinic and phone, appointment ids by patient: each message looks up one sender, not every row. */
  private readonly patientIdsByPhone = new Map<string, Set<string>>();
  private readonly appointmentIdsByPatient = new Map<string, Set<string>>();
  private closed = false;

  /**
   * @param options - how many finished messages to keep, and who hears of each one dropped
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.maxMessages = options.maxMessages ?? DEFAULT_MEMORY_MAX_MESSAGES;
    this.finished = new RetentionRing(this.maxMessages);
    this.onDrop = options.onDrop ?? ((): void => undefined);
  }

  async init(): Promise<void> {}

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  async claimMessage(record: MessageRecord): Promise<ClaimResult> {
    const existing = this.loadMessage(record.messageSid);
    if (existing) {
      return { claimed: false, existing: existing.copy ? existing.record : clone(existing.record) };
    }
    // One owned copy of the MessageSid serves as the table's key, the record's own field and,
    // once it finishes, its place in the retention ring.
    const kept = clone(record);
    kept.messageSid = ownString(record.messageSid);
    this.messages.set(kept.messageSid, kept);
    return { claimed: true };
  }

  async completeMessage(messageSid: string, completion: MessageCompletion): Promise<void> {
    const existing = this.loadMessage(messageSid);
    if (existing) {
      // A finished record is written out as JSON at once (keepMessage), which copies it: only
      // one that stays an object in flight needs its own copy of the caller's values.
      Object.assign(existing.record, completion.status === 'received' ? clone(completion) : completion);
      this.keepMessage(existing.record);
    }
  }

  async recordDuplicate(messageSid: string, at: Date): Promise<void> {
    const existing = this.loadMessage(messageSid);
    if (existing) {
      existing.record.duplicateDeliveries = (existing.record.duplicateDeliveries ?? 0) + 1;
      existing.record.lastDuplicateAt = new Date(at);
      this.keepMessage(existing.record);
    }
  }

  async getMessage(messageSid: string): Promise<MessageRecord | null> {
    const found = this.loadMessage(messageSid);
    return found ? (found.copy ? found.record : clone(found.record)) : null;
  }

  /**
   * A stored record: the live object while its message is in flight, or a fresh copy of
   * a finished one (`copy`), which is kept in the arena.
   */
  private loadMessage(messageSid: string): { record: MessageRecord; copy: boolean } | undefined {
    const stored = this.messages.get(messageSid);
    if (stored === undefined) {
      return undefined;
    }
    return typeof stored === 'number' ? { record: unpackRecord<MessageRecord>(this.arena.get(stored)), copy: true } : { record: stored, copy: false };
  }

  /**
   * Keeps a record: in flight, as the object itself; finished, as JSON text (packed-record.ts)
   * in the record arena, outside the V8 heap (record-arena.ts). The audit trail is what this
   * store holds most of: as object graphs or strings, the records made the collector's work
   * grow with them, and requests stalled during full collections.
   */
  private keepMessage(record: MessageRecord): void {
    const previous = this.messages.get(record.messageSid);
    if (record.status === 'received') {
      this.messages.set(record.messageSid, record);
      if (typeof previous === 'number') {
        this.arena.release(previous);
      }
      return;
    }
    this.messages.set(record.messageSid, this.arena.put(packRecord(record)));
    if (typeof previous === 'number') {
      this.arena.release(previous);
    } else {
      // Counted once, when it first finishes: a later duplicate or completion rewrites it in place.
      // `record` is the in-flight object claimMessage stored, so its MessageSid is the owned key.
      const oldest = this.finished.add(record.messageSid);
      if (oldest !== undefined) {
        this.dropMessage(oldest);
      }
    }
  }

  /** Lets go of a finished message's record and the inbox items it made. */
  private dropMessage(messageSid: string): void {
    const stored = this.messages.get(messageSid);
    if (typeof stored !== 'number') {
      return;
    }
    this.messages.delete(messageSid);
    this.arena.release(stored);
    this.onDrop('messages');
    for (const handle of this.inboxHandles(messageSid)) {
      this.arena.release(handle);
      this.onDrop('inbox');
    }
    this.inbox.delete(messageSid);
  }

  async *listMessages(query: MessageQuery): AsyncIterable<MessageRecord> {
    const rows = [...this.messages.keys()]
      .map((sid) => (this.loadMessage(sid) as { record: MessageRecord }).record)
      .filter((m) => m.clinicId === query.clinicId && m.receivedAt >= query.since && m.receivedAt < query.until)
      .sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || a.messageSid.localeCompare(b.messageSid));
    for (const row of rows) {
      yield clone(row);
    }
  }

  async findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]> {
    return this.patientsOn(senderKey(clinicId, phone));
  }

  private patientsOn(key: string): Patient[] {
    const ids = this.patientIdsByPhone.get(key);
    if (!ids) {
      return [];
    }
    if (ids.size === 1) {
      // Most phones have one patient: no sort.
      for (const id of ids) {
        return [clone(this.patients.get(id) as Patient)];
      }
    }
    return [...ids]
      .map((id) => this.patients.get(id) as Patient)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(clone);
  }

  private upcoming(clinicId: string, patientIds: readonly string[], now: Date): Appointment | null {
    let best: Appointment | null = null;
    // Plain loops: no arrays of ids or rows per message.
    for (const patientId of patientIds) {
      for (const id of this.appointmentIdsByPatient.get(patientId) ?? []) {
        const a = this.appointments.get(id) as Appointment;
        if (a.clinicId !== clinicId || a.startsAt < now || a.status === 'cancelled') {
          continue;
        }
        if (!best || a.startsAt < best.startsAt || (a.startsAt.getTime() === best.startsAt.getTime() && a.id < best.id)) {
          best = a;
        }
      }
    }
    return best;
  }

  async findNextAppointment(clinicId: string, patientIds: readonly string[], now: Date): Promise<Appointment | null> {
    const found = this.upcoming(clinicId, patientIds, now);
    return found ? clone(found) : null;
  }

  async advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: AppointmentStatus): Promise<AppointmentTransition> {
    const found = this.upcoming(clinicId, patientIds, now);
    if (!found) {
      return { before: null, after: null };
    }
    const before = clone(found);
    const rank = APPOINTMENT_STATUS_RANK[found.status];
    if (rank < APPOINTMENT_STATUS_RANK[to]) {
      found.status = to;
      found.updatedAt = new Date(now);
    } else if (rank === APPOINTMENT_STATUS_RANK[to] && found.updatedAt && now < found.updatedAt) {
      // As the MongoDB adapter's $min: at the same status the earlier request time stays.
      found.updatedAt = new Date(now);
    }
    return { before, after: clone(found) };
  }

  async touchSender(clinicId: string, phone: string, window: RateWindow): Promise<SenderState> {
    const key = senderKey(clinicId, phone);
    const current = this.rate.get(key);
    const counter = current && current.key === window.key ? current : { key: window.key, count: 0, expiresAt: window.expiresAt };
    counter.count += 1;
    this.rate.set(key, counter);
    this.sweepRate(window);
    return { count: counter.count, optedOut: this.optOuts.get(key)?.optedOut ?? false, patients: this.patientsOn(key) };
  }

  /**
   * Now and then drops the counters of windows that are over, one shard at a time, as
   * MongoDB's TTL index removes them: a counter is read only in its own minute, and one whose
   * window expired by the newest window's start is not read again.
   */
  private sweepRate(window: RateWindow): void {
    this.latestWindowExpiry = Math.max(this.latestWindowExpiry, window.expiresAt.getTime());
    this.touches += 1;
    if (this.touches % SWEEP_EVERY !== 0) {
      return;
    }
    const cutoff = this.latestWindowExpiry - 2 * 60_000;
    this.rate.sweepShard(this.sweepShard, (counter) => counter.expiresAt.getTime() <= cutoff);
    this.sweepShard = (this.sweepShard + 1) % this.rate.shardCount;
  }

  async getOptOut(clinicId: string, phone: string): Promise<OptOutRecord | null> {
    const found = this.optOuts.get(senderKey(clinicId, phone));
    return found ? clone(found) : null;
  }

  async setOptOut(record: OptOutRecord): Promise<void> {
    this.optOuts.set(senderKey(record.clinicId, record.phone), keepData(record));
  }

  /**
   * Adds a staff inbox item once: an item's id is its MessageSid and kind (InboxItem), so a
   * repeat can only be among the items of the same message.
   */
  async addInboxItem(item: InboxItem): Promise<void> {
    const handles = this.inboxHandles(item.messageSid);
    if (handles.some((h) => this.inboxItemAt(h).id === item.id)) {
      return;
    }
    const handle = this.arena.put(packRecord(item));
    if (handles.length === 0) {
      // Its own copy of the MessageSid as the key: the item's may be cut from a request body.
      this.inbox.set(ownString(item.messageSid), handle);
    } else {
      this.inbox.set(item.messageSid, [...handles, handle]);
    }
  }

  async listInbox(clinicId: string): Promise<InboxItem[]> {
    const items: InboxItem[] = [];
    for (const kept of this.inbox.values()) {
      for (const handle of typeof kept === 'number' ? [kept] : kept) {
        const item = this.inboxItemAt(handle);
        if (item.clinicId === clinicId) {
          items.push(item);
        }
      }
    }
    return items.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  private inboxHandles(messageSid: string): number[] {
    const kept = this.inbox.get(messageSid);
    return kept === undefined ? [] : typeof kept === 'number' ? [kept] : kept;
  }

  /** A fresh copy of the item kept under `handle`. */
  private inboxItemAt(handle: number): InboxItem {
    return unpackRecord<InboxItem>(this.arena.get(handle));
  }

  async upsertPatients(patients: readonly Patient[]): Promise<UpsertSummary> {
    return upsertInto(this.patients, patients, (before, after) => {
      reindex(this.patientIdsByPhone, before && senderKey(before.clinicId, before.phone), senderKey(after.clinicId, after.phone), after.id);
    });
  }

  async upsertAppointments(appointments: readonly Appointment[]): Promise<UpsertSummary> {
    return upsertInto(this.appointments, appointments, (before, after) => {
      reindex(this.appointmentIdsByPatient, before?.patientId, after.patientId, after.id);
    });
  }

  async getAppointment(id: string): Promise<Appointment | null> {
    const found = this.appointments.get(id);
    return found ? clone(found) : null;
  }

  /** True once close() was called (tests). */
  get isClosed(): boolean {
    return this.closed;
  }
}

/** Moves `id` from the `before` key's set to the `after` key's set of an index. */
function reindex(index: Map<string, Set<string>>, before: string | undefined, after: string, id: string): void {
  if (before !== undefined && before !== after) {
    const set = index.get(before);
    set?.delete(id);
    if (set?.size === 0) {
      index.delete(before);
    }
  }
  const set = index.get(after) ?? new Set<string>();
  set.add(id);
  index.set(after, set);
}

function upsertInto<T extends { id: string }>(map: Map<string, T>, rows: readonly T[], onWrite: (before: T | undefined, after: T) => void): UpsertSummary {
  const summary: UpsertSummary = { inserted: 0, updated: 0, unchanged: 0 };
  for (const row of rows) {
    const existing = map.get(row.id);
    if (!existing) {
      summary.inserted += 1;
    } else if (isDeepStrictEqual(existing, row)) {
      summary.unchanged += 1;
      continue;
    } else {
      summary.updated += 1;
    }
    onWrite(existing, row);
    const kept = keepData(row);
    map.set(kept.id, kept);
  }
  return summary;
}
