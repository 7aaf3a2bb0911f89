import { isDeepStrictEqual } from 'node:util';
import type { Appointment, AppointmentTransition, MessageCompletion, MessageRecord, OptOutRecord, OutboxEvent, Patient, PendingChoice, ResponseKind, SenderState } from '../../domain.js';
import { APPOINTMENT_STATUS_RANK, appointmentStatus } from '../../domain.js';
import { upsertAppointment } from '../appointment-upsert.js';
import type { AppointmentUpsertSummary, ClaimResult, MessageQuery, OptOutWrite, PendingOutbox, RateWindow, ResponseSource, Store, UpsertOptions, UpsertSummary } from '../store.js';

/** How many finished messages the embedded store keeps by default. */
export const DEFAULT_MEMORY_MAX_MESSAGES = 50_000;

/** What the embedded store lets go of to stay within its bound. */
export type DroppedTable = 'messages';

/** A finished message the embedded store let go of, as its listeners hear of it. */
export interface DroppedMessage {
  messageSid: string;
  /** Null for a message to a number no clinic owns. */
  clinicId: string | null;
  /** The sender (E.164). */
  phone: string;
  receivedAt: Date;
  /** True when the store holds no other message from this sender at this clinic. */
  lastOfSender: boolean;
}

/**
 * Told of each message the embedded store drops, so the feature parts kept beside it
 * (conversations, media records) let go of what belongs to that message.
 */
export interface MessageDrops {
  /** @returns a function that stops the listening */
  onMessageDropped(listener: (dropped: DroppedMessage) => void): () => void;
}

/** True for a store that tells of the messages it drops (the embedded one). */
export function dropsMessages(store: object): store is MessageDrops {
  return typeof (store as Partial<MessageDrops>).onMessageDropped === 'function';
}

export interface MemoryStoreOptions {
  /**
   * Finished audit records kept: past it the oldest are dropped (and leave the threads of
   * staff conversations, which read them). Messages in flight are never dropped. Default DEFAULT_MEMORY_MAX_MESSAGES.
   */
  maxMessages?: number;
  /** Told of each record dropped (a metric). */
  onDrop?: (table: DroppedTable) => void;
}

const senderKey = (clinicId: string, phone: string): string => `${clinicId}\u0000${phone}`;

/**
 * The embedded store: everything in process memory, gone at exit. It copies on the way in
 * and out (structuredClone), so callers can never change stored state by accident, as the
 * MongoDB adapter cannot either. The copies also mean it never keeps a request body alive
 * through a string cut from it.
 *
 * Its memory is bounded, so a demo left running does not grow until the process dies: it
 * keeps the newest `maxMessages` finished audit records, and rate counters only for their window (as the MongoDB TTL index does).
 * With the last message of a sender goes what the store remembers of that sender (the memo:
 * pending choice, automatic replies; kept while staff wrote to them since), and its listeners (onMessageDropped)
 * drop the conversations and media records that belong to the messages.
 * Opt-out state, patients and appointments are never dropped. Production runs on MongoDB,
 * which keeps everything.
 */
export class MemoryStore implements Store, MessageDrops {
  readonly kind = 'memory' as const;
  readonly maxMessages: number;
  private readonly onDrop: (table: DroppedTable) => void;
  private readonly messages = new Map<string, MessageRecord>();
  /** How many of `messages` each sender (clinic + phone) has: the last one dropped takes the sender's memo along. */
  private readonly messagesBySender = new Map<string, number>();
  private readonly dropListeners = new Set<(dropped: DroppedMessage) => void>();
  /** MessageSids of finished messages, oldest first: what the bound drops. */
  private readonly finished = new Set<string>();
  /** Records claimed with mediaPending, by MessageSid, kept apart so the bound never drops one. */
  private readonly mediaPendingRecords = new Map<string, MessageRecord>();
  /** Completions' events the relay has not copied yet, by MessageSid, kept apart like mediaPendingRecords. */
  private readonly outboxes = new Map<string, OutboxEvent[]>();
  private readonly optOuts = new Map<string, OptOutRecord>();
  /** What the sender's conversation remembers: the pending choice, staff activity, automatic replies. */
  private readonly memos = new Map<string, Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'>>();
  private readonly rate = new Map<string, { key: string; count: number; expiresAt: Date }>();
  /** The latest rate window's expiry (ms): when it moves on, expired counters are dropped. */
  private latestWindowExpiry = 0;
  private readonly patients = new Map<string, Patient>();
  private readonly appointments = new Map<string, Appointment>();
  /** Patient ids by clinic + phone, appointment ids by patient: a message looks up one sender, not every row. */
  private readonly patientIdsByPhone = new Map<string, Set<string>>();
  private readonly appointmentIdsByPatient = new Map<string, Set<string>>();
  private closed = false;

  /**
   * @param options - how many finished messages to keep, and who hears of each one dropped
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.maxMessages = options.maxMessages ?? DEFAULT_MEMORY_MAX_MESSAGES;
    this.onDrop = options.onDrop ?? ((): void => undefined);
  }

  async init(): Promise<void> {}
  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  /** True once close() was called (tests). */
  get isClosed(): boolean {
    return this.closed;
  }

  async claimMessage(record: MessageRecord): Promise<ClaimResult> {
    const existing = this.messages.get(record.messageSid);
    if (existing) {
      return { claimed: false, existing: structuredClone(existing) };
    }
    const kept = structuredClone(record);
    this.messages.set(kept.messageSid, kept);
    const sender = senderKey(kept.clinicId ?? '', kept.message.from);
    this.messagesBySender.set(sender, (this.messagesBySender.get(sender) ?? 0) + 1);
    if (kept.mediaPending) {
      this.mediaPendingRecords.set(kept.messageSid, structuredClone(record));
    }
    return { claimed: true };
  }

  async completeMessage(messageSid: string, completion: MessageCompletion, options: { unlessGivenUp?: boolean } = {}): Promise<boolean> {
    const existing = this.messages.get(messageSid);
    if (!existing || (options.unlessGivenUp === true && existing.gaveUpAt !== undefined)) {
      return false;
    }
    Object.assign(existing, structuredClone(completion));
    this.noteFinished(existing);
    if (completion.outbox && completion.outbox.length > 0) {
      // A second completion of the message replaces the first, as on MongoDB.
      this.outboxes.set(messageSid, structuredClone(completion.outbox));
    }
    return true;
  }

  async giveUpMessage(messageSid: string, at: Date): Promise<MessageRecord | null> {
    const existing = this.messages.get(messageSid);
    if (!existing) {
      return null;
    }
    if (existing.status === 'received' && existing.gaveUpAt === undefined) {
      existing.gaveUpAt = new Date(at);
    }
    return structuredClone(existing);
  }

  async recordDuplicate(messageSid: string, at: Date): Promise<void> {
    const existing = this.messages.get(messageSid);
    if (existing) {
      existing.duplicateDeliveries = (existing.duplicateDeliveries ?? 0) + 1;
      existing.lastDuplicateAt = new Date(at);
      this.noteFinished(existing);
    }
  }

  async getMessage(messageSid: string): Promise<MessageRecord | null> {
    const found = this.messages.get(messageSid);
    return found ? structuredClone(found) : null;
  }

  async *listMessages(query: MessageQuery): AsyncIterable<MessageRecord> {
    const rows = [...this.messages.values()]
      .filter((m) => m.clinicId === query.clinicId && m.receivedAt >= query.since && m.receivedAt < query.until)
      .sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || a.messageSid.localeCompare(b.messageSid));
    for (const row of rows) {
      yield structuredClone(row);
    }
  }

  async pendingOutboxes(limit: number): Promise<PendingOutbox[]> {
    const out: PendingOutbox[] = [];
    for (const [messageSid, events] of this.outboxes) {
      if (out.length >= limit) {
        break;
      }
      out.push({ messageSid, events });
    }
    return structuredClone(out);
  }

  async clearOutbox(messageSid: string): Promise<void> {
    this.outboxes.delete(messageSid);
  }

  async pendingMedia(limit: number): Promise<MessageRecord[]> {
    // The first `limit` only: a backlog the relay has not reached is not copied on every round.
    const out: MessageRecord[] = [];
    for (const record of this.mediaPendingRecords.values()) {
      if (out.length >= limit) {
        break;
      }
      out.push(record);
    }
    return structuredClone(out);
  }

  async countMediaPending(): Promise<number> {
    return this.mediaPendingRecords.size;
  }

  async clearMediaPending(messageSid: string): Promise<void> {
    this.mediaPendingRecords.delete(messageSid);
    const record = this.messages.get(messageSid);
    if (record) {
      delete record.mediaPending;
    }
  }

  /**
   * Counts a record among the finished ones the first time it is no longer in flight: a Set
   * keeps an entry's first place, so a later rewrite (duplicate, completion) does not move it.
   */
  private noteFinished(record: MessageRecord): void {
    if (record.status === 'received') {
      return;
    }
    this.finished.add(record.messageSid);
    // Past the bound the oldest finished message goes.
    for (const oldest of this.finished) {
      if (this.finished.size <= this.maxMessages) {
        break;
      }
      this.finished.delete(oldest);
      this.drop(oldest);
    }
  }

  /** Lets go of a finished message, and of its sender's memo when it was the sender's last; tells the listeners. */
  private drop(messageSid: string): void {
    const record = this.messages.get(messageSid);
    if (!record) {
      return;
    }
    this.messages.delete(messageSid);
    const sender = senderKey(record.clinicId ?? '', record.message.from);
    const left = (this.messagesBySender.get(sender) ?? 1) - 1;
    if (left > 0) {
      this.messagesBySender.set(sender, left);
    } else {
      this.messagesBySender.delete(sender);
      // The memo goes too, unless staff wrote to the sender since (their conversation stays then too).
      const staffAt = this.memos.get(sender)?.staffAt;
      if (!staffAt || staffAt <= record.receivedAt) {
        this.memos.delete(sender);
      }
    }
    this.onDrop('messages');
    const dropped: DroppedMessage = { messageSid, clinicId: record.clinicId, phone: record.message.from, receivedAt: record.receivedAt, lastOfSender: left <= 0 };
    for (const listener of this.dropListeners) {
      listener(dropped);
    }
  }

  onMessageDropped(listener: (dropped: DroppedMessage) => void): () => void {
    this.dropListeners.add(listener);
    return () => {
      this.dropListeners.delete(listener);
    };
  }

  async findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]> {
    return this.patientsOn(senderKey(clinicId, phone));
  }

  async searchPatientsByName(clinicId: string, words: readonly string[], limit: number): Promise<Patient[]> {
    const wanted = words.map((w) => w.toLowerCase()).filter((w) => w !== '');
    if (wanted.length === 0) {
      return [];
    }
    const out: Patient[] = [];
    for (const p of this.patients.values()) {
      const names = [p.firstName.toLowerCase(), p.lastName.toLowerCase()];
      if (p.clinicId === clinicId && wanted.every((w) => names.some((n) => n.startsWith(w)))) {
        out.push(p);
      }
    }
    return out
      .sort(byName)
      .slice(0, limit)
      .map((p) => structuredClone(p));
  }

  async getPatient(clinicId: string, patientId: string): Promise<Patient | null> {
    const found = this.patients.get(patientId);
    return found && found.clinicId === clinicId ? structuredClone(found) : null;
  }

  private patientsOn(key: string): Patient[] {
    return [...(this.patientIdsByPhone.get(key) ?? [])]
      .map((id) => this.patients.get(id) as Patient)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((p) => structuredClone(p));
  }

  /** The soonest upcoming, not cancelled appointment among the patients (the stored object). */
  private upcoming(clinicId: string, patientIds: readonly string[], now: Date): Appointment | null {
    let best: Appointment | null = null;
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
    return found ? structuredClone(found) : null;
  }

  async advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition> {
    return advance(this.upcoming(clinicId, patientIds, now), to, by);
  }

  async findUpcomingAppointments(clinicId: string, patientIds: readonly string[], now: Date, until: Date): Promise<Appointment[]> {
    const found: Appointment[] = [];
    for (const patientId of patientIds) {
      for (const id of this.appointmentIdsByPatient.get(patientId) ?? []) {
        const a = this.appointments.get(id) as Appointment;
        if (a.clinicId === clinicId && a.startsAt >= now && a.startsAt < until && a.status !== 'cancelled') {
          found.push(structuredClone(a));
        }
      }
    }
    return found.sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async advanceAppointment(clinicId: string, patientIds: readonly string[], appointmentId: string, now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition> {
    const a = this.appointments.get(appointmentId);
    const eligible = a !== undefined && a.clinicId === clinicId && patientIds.includes(a.patientId) && a.startsAt >= now && a.status !== 'cancelled';
    return advance(eligible ? a : null, to, by);
  }

  async saveChoice(clinicId: string, phone: string, choice: PendingChoice): Promise<boolean> {
    const memo = this.memoOf(clinicId, phone);
    if (memo.choice && memo.choice.askedAt > choice.askedAt) {
      return false;
    }
    memo.choice = structuredClone(choice);
    return true;
  }

  async clearChoice(clinicId: string, phone: string, messageSid: string): Promise<void> {
    const memo = this.memoOf(clinicId, phone);
    if (memo.choice?.messageSid === messageSid) {
      delete memo.choice;
    }
  }

  async noteStaffActivity(clinicId: string, phone: string, at: Date): Promise<void> {
    const memo = this.memoOf(clinicId, phone);
    if (!memo.staffAt || memo.staffAt < at) {
      memo.staffAt = new Date(at);
    }
  }

  async noteAutoReply(clinicId: string, phone: string, kind: string, at: Date): Promise<void> {
    const memo = this.memoOf(clinicId, phone);
    const current = memo.autoReplies?.[kind];
    if (!current || current < at) {
      memo.autoReplies = { ...memo.autoReplies, [kind]: new Date(at) };
    }
  }

  async peekSender(clinicId: string, phone: string): Promise<Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'>> {
    return structuredClone(this.memos.get(senderKey(clinicId, phone)) ?? {});
  }

  private memoOf(clinicId: string, phone: string): Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'> {
    const key = senderKey(clinicId, phone);
    let memo = this.memos.get(key);
    if (!memo) {
      memo = {};
      this.memos.set(key, memo);
    }
    return memo;
  }

  async touchSender(clinicId: string, phone: string, window: RateWindow): Promise<SenderState> {
    this.dropExpiredCounters(window);
    const key = senderKey(clinicId, phone);
    const current = this.rate.get(key);
    const counter = current?.key === window.key ? current : { key: window.key, count: 0, expiresAt: new Date(window.expiresAt) };
    counter.count += 1;
    this.rate.set(key, counter);
    return { count: counter.count, optedOut: this.optOuts.get(key)?.optedOut ?? false, patients: this.patientsOn(key), ...structuredClone(this.memos.get(key) ?? {}) };
  }

  /**
   * When a newer rate window starts, drops the counters of windows over by its start, as
   * MongoDB's TTL index removes them: a counter is only read in its own window.
   */
  private dropExpiredCounters(window: RateWindow): void {
    if (window.expiresAt.getTime() <= this.latestWindowExpiry) {
      return;
    }
    this.latestWindowExpiry = window.expiresAt.getTime();
    const cutoff = this.latestWindowExpiry - 2 * 60_000;
    for (const [key, counter] of this.rate) {
      if (counter.expiresAt.getTime() <= cutoff) {
        this.rate.delete(key);
      }
    }
  }

  async getOptOut(clinicId: string, phone: string): Promise<OptOutRecord | null> {
    const found = this.optOuts.get(senderKey(clinicId, phone));
    return found ? structuredClone(found) : null;
  }

  async setOptOut(record: OptOutRecord): Promise<OptOutWrite> {
    const key = senderKey(record.clinicId, record.phone);
    const current = this.optOuts.get(key);
    if (current && current.changedAt > record.changedAt) {
      return { applied: false, current: structuredClone(current) };
    }
    this.optOuts.set(key, structuredClone(record));
    return { applied: true };
  }

  async upsertPatients(patients: readonly Patient[], options: Pick<UpsertOptions, 'dryRun'> = {}): Promise<UpsertSummary> {
    return upsertInto(this.patients, patients, options.dryRun === true, (before, after) => {
      reindex(this.patientIdsByPhone, before && senderKey(before.clinicId, before.phone), senderKey(after.clinicId, after.phone), after.id);
    });
  }

  async upsertAppointments(appointments: readonly Appointment[], options: UpsertOptions = {}): Promise<AppointmentUpsertSummary> {
    const summary: AppointmentUpsertSummary = { inserted: 0, updated: 0, unchanged: 0, retiredResponses: 0 };
    const at = options.at ?? new Date();
    // A dry run plans on copies, so a row repeated in the file sees the one before it.
    const planned = new Map<string, Appointment>();
    for (const row of appointments) {
      const existing = planned.get(row.id) ?? this.appointments.get(row.id);
      const { result, change, retired } = upsertAppointment(existing, row, at);
      summary[change] += 1;
      summary.retiredResponses += retired ? 1 : 0;
      if (change === 'unchanged') {
        continue;
      }
      const kept = structuredClone(result);
      if (options.dryRun) {
        planned.set(kept.id, kept);
        continue;
      }
      reindex(this.appointmentIdsByPatient, existing?.patientId, kept.patientId, kept.id);
      this.appointments.set(kept.id, kept);
    }
    return summary;
  }

  /**
   * Stores appointments whole, the patient's response included: a given state for the
   * rules test runner and tests, which no import or message could write in one step.
   * @param appointments - as they are to be stored
   */
  putAppointments(appointments: readonly Appointment[]): void {
    for (const appointment of appointments) {
      const kept = structuredClone(appointment);
      reindex(this.appointmentIdsByPatient, this.appointments.get(kept.id)?.patientId, kept.patientId, kept.id);
      this.appointments.set(kept.id, kept);
    }
  }

  async findPatientClinics(patientIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const id of patientIds) {
      const patient = this.patients.get(id);
      if (patient) {
        found.set(id, patient.clinicId);
      }
    }
    return found;
  }

  async getAppointment(id: string): Promise<Appointment | null> {
    const found = this.appointments.get(id);
    return found ? structuredClone(found) : null;
  }
}

/** Last name, first name, id: in code-unit order, as MongoDB sorts strings. */
function byName(a: Patient, b: Patient): number {
  for (const [x, y] of [[a.lastName, b.lastName], [a.firstName, b.firstName], [a.id, b.id]] as const) {
    if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
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

/** The MongoDB order of `{ since, messageSid }` values: an earlier time, then a missing or smaller messageSid. */
function earlier(a: { at: Date; messageSid?: string }, b: { at: Date; messageSid?: string }): boolean {
  if (a.at.getTime() !== b.at.getTime()) {
    return a.at < b.at;
  }
  if (a.messageSid === undefined || b.messageSid === undefined) {
    return a.messageSid === undefined && b.messageSid !== undefined;
  }
  return a.messageSid < b.messageSid;
}

function upsertInto<T extends { id: string }>(map: Map<string, T>, rows: readonly T[], dryRun: boolean, onWrite: (before: T | undefined, after: T) => void): UpsertSummary {
  const summary: UpsertSummary = { inserted: 0, updated: 0, unchanged: 0 };
  const planned = new Map<string, T>();
  for (const row of rows) {
    const existing = planned.get(row.id) ?? map.get(row.id);
    if (!existing) {
      summary.inserted += 1;
    } else if (isDeepStrictEqual(existing, row)) {
      summary.unchanged += 1;
      continue;
    } else {
      summary.updated += 1;
    }
    const kept = structuredClone(row);
    if (dryRun) {
      planned.set(kept.id, kept);
      continue;
    }
    onWrite(existing, kept);
    map.set(kept.id, kept);
  }
  return summary;
}

/**
 * Records the response `to` on `found` (the stored object) if what the patient sees ranks
 * below it and no newer response stands: the rule advanceNextAppointment documents.
 */
function advance(found: Appointment | null, to: ResponseKind, by: ResponseSource): AppointmentTransition {
  if (!found) {
    return { before: null, after: null };
  }
  const before = structuredClone(found);
  const current = found.patientResponse;
  const response = { kind: to, at: new Date(by.at), messageSid: by.messageSid };
  // The patient answered since this message arrived (a late replay): their newer word stands.
  const stale = current !== undefined && current.at > response.at;
  const rank = APPOINTMENT_STATUS_RANK[appointmentStatus(found)];
  if (!stale && rank < APPOINTMENT_STATUS_RANK[to]) {
    found.patientResponse = response;
  } else if (!stale && current?.kind === to && earlier(response, current)) {
    // As the MongoDB adapter's $min: at the same response and time the smaller messageSid stays.
    found.patientResponse = response;
  }
  return { before, after: structuredClone(found) };
}
