import { isDeepStrictEqual } from 'node:util';
import type { AnyBulkWriteOperation, Collection, Db, Filter, MongoClient } from 'mongodb';
import type {
  Appointment,
  AppointmentTransition,
  MessageCompletion,
  MessageRecord,
  OptOutRecord,
  Patient,
  PendingChoice,
  ResponseKind,
  SenderState,
} from '../../domain.js';
import { maskPhone } from '../../phone.js';
import { AppError } from '../../errors.js';
import { upsertAppointment } from '../appointment-upsert.js';
import type { AppointmentUpsertSummary, ClaimResult, MessageQuery, OptOutWrite, PendingOutbox, RateWindow, ResponseSource, Store, UpsertOptions, UpsertSummary } from '../store.js';
import {
  appointmentToDoc,
  compact,
  docToAppointment,
  docToMessage,
  docToOptOut,
  docToPatient,
  minStatus,
  messageToDoc,
  patientToDoc,
  rateField,
  responseToDoc,
  rosterToPatients,
  senderId,
  toRoster,
  type AppointmentDoc,
  type MessageDoc,
  type PatientDoc,
  type SenderDoc,
  senderMemo,
} from './documents.js';
import { COLLECTIONS, ensureIndexes } from './indexes.js';
import { isDuplicateKey, storeOperation, toStoreError } from './mongo-errors.js';
import { SILENT_LOGGER, type StoreLogger } from './store-logger.js';
import { upgradeAppointmentDocuments } from './upgrade-documents.js';

/**
 * Replacements per bulk write. FerretDB 1.24 (SQLite) keeps one SQLite connection per
 * statement of an `update` command until the command ends, and its pool has 100: an
 * update of 100+ statements deadlocks the whole server (measured: 99 fine, 150 hangs).
 */
const REPLACE_BULK = 50;

export interface MongoStoreOptions {
  client: MongoClient;
  dbName: string;
  logger?: StoreLogger;
  /** Server-side time limit of each query (maxTimeMS). */
  maxTimeMS?: number;
  /** Close the client with the store (true when the store made it). */
  ownsClient?: boolean;
  /** Documents per round trip in upserts. */
  batchSize?: number;
}

/** Appointments at or after `now` of the patients, not cancelled (the order is the caller's). */
function upcomingFilter(clinicId: string, patientIds: readonly string[], now: Date): Filter<AppointmentDoc> {
  return { clinicId, patientId: { $in: [...patientIds] }, startsAt: { $gte: now }, 'status.name': { $ne: 'cancelled' } };
}

/**
 * The production Store: MongoDB through the official driver. Single-document atomic
 * operations only (no transactions, nothing relies on TTL), so it also runs on
 * MongoDB-compatible servers such as FerretDB. See docs/store.md.
 */
export class MongoStore implements Store {
  readonly kind = 'mongo' as const;
  /** The driver's client (tests reach raw collections through it). */
  readonly client: MongoClient;
  private readonly db: Db;
  private readonly logger: StoreLogger;
  private readonly maxTimeMS: number;
  private readonly ownsClient: boolean;
  private readonly batchSize: number;
  /** Off-the-hot-path writes still running; close() waits for them. */
  private readonly background = new Set<Promise<void>>();

  /** The service's database: the MongoDB backend's `db` (src/store/backend.ts), where feature parts open their collections. */
  get database(): Db {
    return this.db;
  }

  constructor(options: MongoStoreOptions) {
    this.client = options.client;
    this.db = options.client.db(options.dbName);
    this.logger = options.logger ?? SILENT_LOGGER;
    this.maxTimeMS = options.maxTimeMS ?? 3000;
    this.ownsClient = options.ownsClient ?? false;
    this.batchSize = options.batchSize ?? 2500;
  }

  private get patients(): Collection<PatientDoc> {
    return this.db.collection<PatientDoc>(COLLECTIONS.patients);
  }

  private get appointments(): Collection<AppointmentDoc> {
    return this.db.collection<AppointmentDoc>(COLLECTIONS.appointments);
  }

  private get messages(): Collection<MessageDoc> {
    return this.db.collection<MessageDoc>(COLLECTIONS.messages);
  }

  private get senders(): Collection<SenderDoc> {
    return this.db.collection<SenderDoc>(COLLECTIONS.optOuts);
  }



  async init(): Promise<void> {
    await storeOperation('init', async () => {
      await ensureIndexes(this.db, this.logger);
      await upgradeAppointmentDocuments(this.db, this.logger);
    });
  }

  async ping(): Promise<void> {
    await storeOperation('ping', async () => {
      await this.db.command({ ping: 1 });
    });
  }

  /** Resolves when the off-the-hot-path writes started so far are done (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  async close(): Promise<void> {
    await this.settle();
    if (this.ownsClient) {
      await this.client.close();
    }
  }

  async claimMessage(record: MessageRecord): Promise<ClaimResult> {
    return storeOperation('claimMessage', async () => {
      try {
        await this.messages.insertOne(messageToDoc(record));
        return { claimed: true };
      } catch (err) {
        if (!isDuplicateKey(err)) {
          throw err;
        }
      }
      const existing = await this.messages.findOne({ _id: record.messageSid }, { maxTimeMS: this.maxTimeMS });
      if (!existing) {
        // Only possible if the record was deleted between the two commands.
        throw new Error('claimed message vanished');
      }
      return { claimed: false, existing: docToMessage(existing) };
    });
  }

  async completeMessage(messageSid: string, completion: MessageCompletion, options: { unlessGivenUp?: boolean } = {}): Promise<boolean> {
    return storeOperation('completeMessage', async () => {
      const filter: Filter<MessageDoc> = options.unlessGivenUp === true ? { _id: messageSid, gaveUpAt: { $exists: false } } : { _id: messageSid };
      // The events ride in this one write (no extra command on the hot path), flagged
      // pending for the relay (src/events/relay.ts), which finds them by a sparse index.
      const set: Partial<MessageDoc> = compact(completion);
      if (completion.outbox && completion.outbox.length > 0) {
        set.outboxPending = true;
      }
      const result = await this.messages.updateOne(filter, { $set: set });
      return result.matchedCount > 0;
    });
  }

  async giveUpMessage(messageSid: string, at: Date): Promise<MessageRecord | null> {
    return storeOperation('giveUpMessage', async () => {
      // One findAndModify: the filter is the race with completeMessage({ unlessGivenUp }).
      const given = await this.messages.findOneAndUpdate(
        { _id: messageSid, status: 'received', gaveUpAt: { $exists: false } },
        { $set: { gaveUpAt: at } },
        { returnDocument: 'after', maxTimeMS: this.maxTimeMS },
      );
      const doc = given ?? (await this.messages.findOne({ _id: messageSid }, { maxTimeMS: this.maxTimeMS }));
      return doc ? docToMessage(doc) : null;
    });
  }

  async recordDuplicate(messageSid: string, at: Date): Promise<void> {
    await storeOperation('recordDuplicate', async () => {
      await this.messages.updateOne({ _id: messageSid }, { $inc: { duplicateDeliveries: 1 }, $set: { lastDuplicateAt: at } });
    });
  }

  async pendingOutboxes(limit: number): Promise<PendingOutbox[]> {
    return storeOperation('pendingOutboxes', async () => {
      const docs = await this.messages
        .find({ outboxPending: true }, { projection: { outbox: 1 }, maxTimeMS: this.maxTimeMS })
        .limit(limit)
        .toArray();
      return docs.map((d) => ({ messageSid: d._id, events: d.outbox ?? [] }));
    });
  }

  async clearOutbox(messageSid: string): Promise<void> {
    await storeOperation('clearOutbox', async () => {
      await this.messages.updateOne({ _id: messageSid }, { $unset: { outboxPending: '' } });
    });
  }

  async pendingMedia(limit: number): Promise<MessageRecord[]> {
    return storeOperation('pendingMedia', async () => {
      const docs = await this.messages.find({ mediaPending: true }, { maxTimeMS: this.maxTimeMS }).sort({ receivedAt: 1 }).limit(limit).toArray();
      return docs.map(docToMessage);
    });
  }

  async countMediaPending(): Promise<number> {
    return storeOperation('countMediaPending', () => this.messages.countDocuments({ mediaPending: true }, { maxTimeMS: this.maxTimeMS }));
  }

  async clearMediaPending(messageSid: string): Promise<void> {
    await storeOperation('clearMediaPending', async () => {
      await this.messages.updateOne({ _id: messageSid }, { $unset: { mediaPending: '' } });
    });
  }

  async getMessage(messageSid: string): Promise<MessageRecord | null> {
    return storeOperation('getMessage', async () => {
      const doc = await this.messages.findOne({ _id: messageSid }, { maxTimeMS: this.maxTimeMS });
      return doc ? docToMessage(doc) : null;
    });
  }

  async *listMessages(query: MessageQuery): AsyncIterable<MessageRecord> {
    // No maxTimeMS: an export may legitimately run long; each batch is bounded by socketTimeoutMS.
    const cursor = this.messages
      .find({ clinicId: query.clinicId, receivedAt: { $gte: query.since, $lt: query.until } })
      .sort({ receivedAt: 1, messageSid: 1 });
    try {
      for await (const doc of cursor) {
        yield docToMessage(doc);
      }
    } catch (err) {
      throw toStoreError(err, 'listMessages');
    } finally {
      await cursor.close().catch(() => {});
    }
  }

  async findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]> {
    return storeOperation('findPatientsByPhone', async () => {
      const docs = await this.patients.find({ clinicId, phone }, { maxTimeMS: this.maxTimeMS }).sort({ id: 1 }).toArray();
      return docs.map(docToPatient);
    });
  }

  async searchPatientsByName(clinicId: string, words: readonly string[], limit: number): Promise<Patient[]> {
    const wanted = words.filter((w) => w !== '');
    if (wanted.length === 0) {
      return [];
    }
    return storeOperation('searchPatientsByName', async () => {
      // Anchored, escaped, case-insensitive prefixes; the clinic_phone index narrows to the clinic.
      const prefix = (w: string): { $regex: string; $options: string } => ({ $regex: `^${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, $options: 'i' });
      const docs = await this.patients
        .find({ clinicId, $and: wanted.map((w) => ({ $or: [{ firstName: prefix(w) }, { lastName: prefix(w) }] })) }, { maxTimeMS: this.maxTimeMS })
        .sort({ lastName: 1, firstName: 1, _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(docToPatient);
    });
  }

  async getPatient(clinicId: string, patientId: string): Promise<Patient | null> {
    return storeOperation('getPatient', async () => {
      const doc = await this.patients.findOne({ _id: patientId, clinicId }, { maxTimeMS: this.maxTimeMS });
      return doc ? docToPatient(doc) : null;
    });
  }

  async findNextAppointment(clinicId: string, patientIds: readonly string[], now: Date): Promise<Appointment | null> {
    if (patientIds.length === 0) {
      return null;
    }
    return storeOperation('findNextAppointment', async () => {
      const doc = await this.appointments.findOne(
        upcomingFilter(clinicId, patientIds, now),
        { sort: { startsAt: 1, id: 1 }, maxTimeMS: this.maxTimeMS },
      );
      return doc ? docToAppointment(doc) : null;
    });
  }

  async advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition> {
    if (patientIds.length === 0) {
      return { before: null, after: null };
    }
    return storeOperation('advanceNextAppointment', async () => {
      const at = new Date(by.at);
      const target = responseToDoc(to, at, by.messageSid);
      // Two commands, because "the soonest one" and "unless its patient response is newer"
      // cannot share one filter: a filter on `since` would skip a soonest appointment that
      // refuses this (stale) message and record the response on a later one in its place.
      // So the soonest is read first, then changed by one findOneAndUpdate on its _id that
      // holds both conditions: `since` not newer than `by.at` in the filter, and by `$min`
      // on the stored status (see AppointmentStatusDoc) only if what the patient sees ranks
      // below `to` (or, at the same response and time, the smaller messageSid). Two
      // concurrent CONFIRMs can never both record it, and the practice-owned fields are not
      // in the update. When it changed between the two (a newer response, a cancellation, a
      // re-import), it is read again.
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const soonest = await this.appointments.findOne(upcomingFilter(clinicId, patientIds, now), { sort: { startsAt: 1, id: 1 }, maxTimeMS: this.maxTimeMS });
        if (!soonest) {
          return { before: null, after: null };
        }
        const stale = soonest.status.since !== undefined && soonest.status.since > at;
        if (stale || isDeepStrictEqual(minStatus(soonest.status, target), soonest.status)) {
          // Refused (a newer response) or blocked (already there or beyond; a retry of the
          // message that recorded it): nothing to write.
          const as = docToAppointment(soonest);
          return { before: as, after: as };
        }
        const doc = await this.appointments.findOneAndUpdate(
          {
            _id: soonest._id,
            startsAt: { $gte: now },
            'status.name': { $ne: 'cancelled' },
            $or: [{ 'status.since': { $exists: false } }, { 'status.since': { $lte: at } }],
          },
          { $min: { status: target } },
          { returnDocument: 'before', maxTimeMS: this.maxTimeMS },
        );
        if (doc) {
          return { before: docToAppointment(doc), after: docToAppointment({ ...doc, status: minStatus(doc.status, target) }) };
        }
      }
      throw new AppError('STORE_ERROR', 'the next appointment kept changing while being advanced');
    });
  }

  async findUpcomingAppointments(clinicId: string, patientIds: readonly string[], now: Date, until: Date): Promise<Appointment[]> {
    if (patientIds.length === 0) {
      return [];
    }
    return storeOperation('findUpcomingAppointments', async () => {
      const filter = { ...upcomingFilter(clinicId, patientIds, now), startsAt: { $gte: now, $lt: until } };
      const docs = await this.appointments.find(filter, { sort: { startsAt: 1, id: 1 }, limit: 50, maxTimeMS: this.maxTimeMS }).toArray();
      return docs.map(docToAppointment);
    });
  }

  async advanceAppointment(clinicId: string, patientIds: readonly string[], appointmentId: string, now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition> {
    return storeOperation('advanceAppointment', async () => {
      const at = new Date(by.at);
      const target = responseToDoc(to, at, by.messageSid);
      const eligible: Filter<AppointmentDoc> = { ...upcomingFilter(clinicId, patientIds, now), _id: appointmentId };
      // One command when it moves (the chosen appointment is known: no "soonest" to read
      // first); the same conditions as advanceNextAppointment's second command.
      const doc = await this.appointments.findOneAndUpdate(
        { ...eligible, $or: [{ 'status.since': { $exists: false } }, { 'status.since': { $lte: at } }] },
        { $min: { status: target } },
        { returnDocument: 'before', maxTimeMS: this.maxTimeMS },
      );
      if (doc) {
        return { before: docToAppointment(doc), after: docToAppointment({ ...doc, status: minStatus(doc.status, target) }) };
      }
      // Not upcoming any more, or a newer response stands: read it to say which.
      const current = await this.appointments.findOne(eligible, { maxTimeMS: this.maxTimeMS });
      const as = current ? docToAppointment(current) : null;
      return { before: as, after: as };
    });
  }

  async saveChoice(clinicId: string, phone: string, choice: PendingChoice): Promise<boolean> {
    return storeOperation('saveChoice', async () => {
      try {
        const result = await this.senders.updateOne(
          { _id: senderId(clinicId, phone), $or: [{ 'choice.askedAt': { $exists: false } }, { 'choice.askedAt': { $lte: choice.askedAt } }] },
          { $set: { choice }, $setOnInsert: { clinicId, phone } },
          { upsert: true, maxTimeMS: this.maxTimeMS },
        );
        return result.matchedCount + result.upsertedCount > 0;
      } catch (err) {
        // The sender exists with a choice asked by a newer message: the upsert's insert collides.
        if (isDuplicateKey(err)) {
          return false;
        }
        throw err;
      }
    });
  }

  async clearChoice(clinicId: string, phone: string, messageSid: string): Promise<void> {
    await storeOperation('clearChoice', async () => {
      await this.senders.updateOne({ _id: senderId(clinicId, phone), 'choice.messageSid': messageSid }, { $unset: { choice: '' } }, { maxTimeMS: this.maxTimeMS });
    });
  }

  async noteStaffActivity(clinicId: string, phone: string, at: Date): Promise<void> {
    await storeOperation('noteStaffActivity', async () => {
      await this.upsertRetry(() =>
        this.senders.updateOne({ _id: senderId(clinicId, phone) }, { $max: { staffAt: at }, $setOnInsert: { clinicId, phone } }, { upsert: true, maxTimeMS: this.maxTimeMS }),
      );
    });
  }

  async noteAutoReply(clinicId: string, phone: string, kind: string, at: Date): Promise<void> {
    await storeOperation('noteAutoReply', async () => {
      await this.upsertRetry(() =>
        this.senders.updateOne(
          { _id: senderId(clinicId, phone) },
          { $max: { [`autoReplies.${kind}`]: at }, $setOnInsert: { clinicId, phone } },
          { upsert: true, maxTimeMS: this.maxTimeMS },
        ),
      );
    });
  }

  async peekSender(clinicId: string, phone: string): Promise<Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'>> {
    return storeOperation('peekSender', async () =>
      senderMemo(await this.senders.findOne({ _id: senderId(clinicId, phone) }, { projection: { choice: 1, staffAt: 1, autoReplies: 1 }, maxTimeMS: this.maxTimeMS })),
    );
  }

  async touchSender(clinicId: string, phone: string, window: RateWindow): Promise<SenderState> {
    return storeOperation('touchSender', async () => {
      const field = rateField(window.key);
      const doc = await this.upsertRetry(() =>
        this.senders.findOneAndUpdate(
          { _id: senderId(clinicId, phone) },
          { $inc: { [`rate.${field}`]: 1 }, $setOnInsert: { clinicId, phone } },
          { upsert: true, returnDocument: 'after', maxTimeMS: this.maxTimeMS },
        ),
      );
      if (!doc) {
        throw new Error('upsert returned no document');
      }
      const stale = Object.keys(doc.rate ?? {}).filter((key) => key !== field);
      if (stale.length > 0) {
        this.forgetRateWindows(doc._id, stale, phone);
      }
      let patients: Patient[];
      if (doc.roster) {
        patients = rosterToPatients(doc.roster);
      } else {
        // No roster yet (a number first seen now, or documents from before rosters): ask
        // `patients`, and keep the answer for the next message.
        patients = (await this.patients.find({ clinicId, phone }, { maxTimeMS: this.maxTimeMS }).sort({ id: 1 }).toArray()).map(docToPatient);
        this.fillRoster(doc._id, patients, phone);
      }
      return { count: doc.rate?.[field] ?? 1, optedOut: doc.optedOut === true, patients, ...senderMemo(doc) };
    });
  }

  /**
   * Stores the roster a message had to look up, off the hot path, only where none exists:
   * an import that rebuilt it meanwhile has the newer answer and keeps it.
   */
  private fillRoster(id: string, patients: readonly Patient[], phone: string): void {
    this.inBackground(
      this.senders.updateOne({ _id: id, roster: { $exists: false } }, { $set: { roster: toRoster(patients) } }).then(() => undefined),
      phone,
      'could not store the roster of a sender',
    );
  }

  /** Runs a write the reply does not wait for; close() waits for it, a failure is only logged. */
  private inBackground(work: Promise<void>, phone: string, what: string): void {
    const task = work
      .catch((err: unknown) => {
        this.logger.warn({ phone: maskPhone(phone), code: toStoreError(err, what).code }, what);
      })
      .finally(() => {
        this.background.delete(task);
      });
    this.background.add(task);
  }

  /**
   * Removes counters of past windows, off the hot path: the reply does not wait for it,
   * and a failure only leaves a few stale numbers that the next message retries.
   */
  private forgetRateWindows(id: string, keys: string[], phone: string): void {
    const unset = Object.fromEntries(keys.map((key) => [`rate.${key}`, '' as const]));
    this.inBackground(
      this.senders.updateOne({ _id: id }, { $unset: unset }).then(() => undefined),
      phone,
      'could not drop stale rate counters',
    );
  }

  /**
   * Runs an upsert once more when it lost an insert race: two upserts of a new _id can
   * both miss and one then fails on the unique index. MongoDB 4.2+ retries that itself;
   * other servers may not.
   */
  private async upsertRetry<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isDuplicateKey(err)) {
        return fn();
      }
      throw err;
    }
  }

  async getOptOut(clinicId: string, phone: string): Promise<OptOutRecord | null> {
    return storeOperation('getOptOut', async () => {
      const doc = await this.senders.findOne({ _id: senderId(clinicId, phone) }, { maxTimeMS: this.maxTimeMS, projection: { rate: 0, roster: 0 } });
      return docToOptOut(doc);
    });
  }

  async setOptOut(record: OptOutRecord): Promise<OptOutWrite> {
    return storeOperation('setOptOut', async () => {
      const id = senderId(record.clinicId, record.phone);
      // $set/$unset of the opt-out fields only, so the rate counters stay as they are.
      const set: Partial<SenderDoc> = { clinicId: record.clinicId, phone: record.phone, optedOut: record.optedOut, changedAt: record.changedAt };
      const unset: Record<string, ''> = {};
      for (const key of ['messageSid', 'keyword'] as const) {
        if (record[key] === undefined) {
          unset[key] = '';
        } else {
          set[key] = record[key];
        }
      }
      const update = Object.keys(unset).length > 0 ? { $set: set, $unset: unset } : { $set: set };
      // One upsert whose filter admits only an older (or no) state. When the sender's
      // document exists but holds a newer state, the filter misses it and the upsert's insert
      // hits the unique _id: that duplicate key *is* the answer "newer state stored". It can
      // also mean that two upserts of a new sender raced, so the command runs once more: the
      // document exists by then, and a second duplicate key can only mean a newer state.
      const filter: Filter<SenderDoc> = { _id: id, $or: [{ changedAt: { $exists: false } }, { changedAt: { $lte: record.changedAt } }] };
      for (let attempt = 0; attempt < 2; attempt += 1) {
        try {
          await this.senders.updateOne(filter, update, { upsert: true });
          return { applied: true };
        } catch (err) {
          if (!isDuplicateKey(err)) {
            throw err;
          }
        }
      }
      const current = docToOptOut(await this.senders.findOne({ _id: id }, { maxTimeMS: this.maxTimeMS, projection: { rate: 0, roster: 0 } }));
      if (!current) {
        throw new AppError('STORE_ERROR', 'the opt-out write was refused but no newer state is stored');
      }
      return { applied: false, current };
    });
  }

  async upsertPatients(patients: readonly Patient[], options: Pick<UpsertOptions, 'dryRun'> = {}): Promise<UpsertSummary> {
    return storeOperation('upsertPatients', () =>
      this.upsertMany(this.patients, patients.map(patientToDoc), options.dryRun === true, (phones) => this.rebuildRosters(phones)),
    );
  }

  async findPatientClinics(patientIds: readonly string[]): Promise<Map<string, string>> {
    return storeOperation('findPatientClinics', async () => {
      const found = new Map<string, string>();
      const ids = [...new Set(patientIds)];
      for (let start = 0; start < ids.length; start += this.batchSize) {
        const batch = ids.slice(start, start + this.batchSize);
        const docs = await this.patients
          .find({ _id: { $in: batch } }, { projection: { _id: 1, clinicId: 1 }, maxTimeMS: this.maxTimeMS, batchSize: batch.length })
          .toArray();
        docs.forEach((d) => found.set(d._id, d.clinicId));
      }
      return found;
    });
  }

  /**
   * Rebuilds the roster of each sender whose patients a batch changed (inserted, edited, or
   * moved to or from the phone), from `patients` after the batch's writes: the roster is a
   * copy, and rebuilding it whole (rather than patching entries) leaves it right whatever
   * it held before, including a roster a message filled from an older read.
   */
  private async rebuildRosters(phones: ReadonlyMap<string, { clinicId: string; phone: string }>): Promise<void> {
    const byClinic = new Map<string, string[]>();
    for (const { clinicId, phone } of phones.values()) {
      byClinic.set(clinicId, [...(byClinic.get(clinicId) ?? []), phone]);
    }
    const rosters = new Map<string, { clinicId: string; phone: string; roster: Record<string, Patient> }>();
    for (const [clinicId, list] of byClinic) {
      const docs = await this.patients.find({ clinicId, phone: { $in: list } }, { maxTimeMS: this.maxTimeMS, batchSize: 10_000 }).toArray();
      const onPhone = new Map<string, Patient[]>(list.map((phone) => [phone, []]));
      for (const doc of docs) {
        onPhone.get(doc.phone)?.push(docToPatient(doc));
      }
      for (const [phone, found] of onPhone) {
        rosters.set(senderId(clinicId, phone), { clinicId, phone, roster: toRoster(found) });
      }
    }
    // Senders no message has created yet are inserted whole, in one command (a first import's
    // case); the others get their roster replaced.
    const ids = [...rosters.keys()];
    const existing = new Set(
      (await this.senders.find({ _id: { $in: ids } }, { maxTimeMS: this.maxTimeMS, projection: { _id: 1 }, batchSize: ids.length }).toArray()).map((d) => d._id),
    );
    const fresh = ids.filter((id) => !existing.has(id));
    const replace = (id: string): AnyBulkWriteOperation<SenderDoc> => {
      const { clinicId, phone, roster } = rosters.get(id) as { clinicId: string; phone: string; roster: Record<string, Patient> };
      return { updateOne: { filter: { _id: id }, update: { $set: { roster }, $setOnInsert: { clinicId, phone } }, upsert: true } };
    };
    const writes = ids.filter((id) => existing.has(id)).map(replace);
    if (fresh.length > 0) {
      try {
        await this.senders.insertMany(
          fresh.map((id) => {
            const { clinicId, phone, roster } = rosters.get(id) as { clinicId: string; phone: string; roster: Record<string, Patient> };
            return { _id: id, clinicId, phone, roster };
          }),
          { ordered: false },
        );
      } catch (err) {
        if (!isDuplicateKey(err)) {
          throw err;
        }
        // A message created some of them meanwhile: write those (all, idempotently) as replacements.
        writes.push(...fresh.map(replace));
      }
    }
    for (let i = 0; i < writes.length; i += REPLACE_BULK) {
      await this.upsertRetry(() => this.senders.bulkWrite(writes.slice(i, i + REPLACE_BULK), { ordered: false }));
    }
  }

  async upsertAppointments(appointments: readonly Appointment[], options: UpsertOptions = {}): Promise<AppointmentUpsertSummary> {
    return storeOperation('upsertAppointments', async () => {
      const summary: AppointmentUpsertSummary = { inserted: 0, updated: 0, unchanged: 0, retiredResponses: 0 };
      const at = options.at ?? new Date();
      for (let start = 0; start < appointments.length; start += this.batchSize) {
        await this.upsertAppointmentBatch(appointments.slice(start, start + this.batchSize), at, options.dryRun === true, summary);
      }
      return summary;
    });
  }

  /**
   * One batch of an appointment import: one find of the batch's ids, the rows applied to
   * what was read (upsertAppointment), one insertMany of the new ones and replacements of
   * the changed ones. A replacement only lands if the stored status (the patient's
   * response, AppointmentStatusDoc) is still the one read: a message that answered in
   * between makes it miss, and the row is applied again to the new state, so an import
   * never overwrites a response it did not see. The summary counts each row's first plan.
   */
  private async upsertAppointmentBatch(rows: readonly Appointment[], at: Date, dryRun: boolean, summary: AppointmentUpsertSummary): Promise<void> {
    let pending = rows;
    for (let round = 0; pending.length > 0; round += 1) {
      if (round === 5) {
        throw new Error('appointments kept changing during the import');
      }
      const ids = [...new Set(pending.map((r) => r.id))];
      // One reply for the whole batch: a getMore costs FerretDB another scan.
      const found = await this.appointments.find({ _id: { $in: ids } }, { maxTimeMS: this.maxTimeMS, batchSize: ids.length }).toArray();
      const stored = new Map(found.map((d) => [d._id, d]));
      const current = new Map(found.map((d) => [d._id, docToAppointment(d)]));
      const inserts = new Map<string, AppointmentDoc>();
      const replacements = new Map<string, { doc: AppointmentDoc; read: AppointmentDoc }>();
      for (const row of pending) {
        const plan = upsertAppointment(current.get(row.id), row, at);
        if (round === 0) {
          summary[plan.change] += 1;
          summary.retiredResponses += plan.retired ? 1 : 0;
        }
        if (plan.change === 'unchanged') {
          continue;
        }
        current.set(row.id, plan.result);
        const doc = appointmentToDoc(plan.result);
        const read = stored.get(row.id);
        // A row repeated in one batch: the last one wins, as with sequential writes.
        if (read) {
          replacements.set(row.id, { doc, read });
        } else {
          inserts.set(row.id, doc);
        }
      }
      if (dryRun) {
        return;
      }
      const retry = new Set<string>();
      if (inserts.size > 0) {
        try {
          await this.appointments.insertMany([...inserts.values()], { ordered: false });
        } catch (err) {
          if (!isDuplicateKey(err)) {
            throw err;
          }
          // Someone else inserted some of them meanwhile: apply those rows again to what is there.
          inserts.forEach((_doc, id) => retry.add(id));
        }
      }
      const writes: AnyBulkWriteOperation<AppointmentDoc>[] = [...replacements.values()].map(({ doc, read }) => ({
        replaceOne: { filter: { _id: doc._id, 'status.name': read.status.name, 'status.since': read.status.since ?? { $exists: false } }, replacement: doc },
      }));
      let matched = 0;
      for (let i = 0; i < writes.length; i += REPLACE_BULK) {
        matched += (await this.appointments.bulkWrite(writes.slice(i, i + REPLACE_BULK), { ordered: false })).matchedCount;
      }
      if (matched < writes.length) {
        // Some response changed under us: find which by reading back, and apply those again.
        const back = await this.appointments.find({ _id: { $in: [...replacements.keys()] } }, { maxTimeMS: this.maxTimeMS, batchSize: replacements.size }).toArray();
        const now = new Map(back.map((d) => [d._id, d]));
        replacements.forEach(({ doc }, id) => {
          if (!isDeepStrictEqual(now.get(id), doc)) {
            retry.add(id);
          }
        });
      }
      pending = pending.filter((r) => retry.has(r.id));
    }
  }

  /**
   * Upserts by `_id` in batches: one find of the batch's ids, then one insertMany of
   * the new documents and replaceOne writes of the changed ones only. Comparing here
   * rather than trusting the server's nModified keeps the summary the same on every
   * MongoDB-compatible server, and unchanged rows cost no write. Replacements go in
   * small bulks (see REPLACE_BULK).
   */
  private async upsertMany<D extends { _id: string }>(
    collection: Collection<D>,
    docs: readonly D[],
    dryRun: boolean,
    afterBatch?: (senders: ReadonlyMap<string, { clinicId: string; phone: string }>) => Promise<void>,
  ): Promise<UpsertSummary> {
    const summary: UpsertSummary = { inserted: 0, updated: 0, unchanged: 0 };
    for (let start = 0; start < docs.length; start += this.batchSize) {
      const batch = docs.slice(start, start + this.batchSize);
      const ids = [...new Set(batch.map((d) => d._id))];
      // One reply for the whole batch: a getMore costs FerretDB another scan.
      const found = await collection.find({ _id: { $in: ids } } as never, { maxTimeMS: this.maxTimeMS, batchSize: ids.length }).toArray();
      const current = new Map<string, unknown>(found.map((d) => [(d as unknown as D)._id, d]));
      const inserts = new Map<string, D>();
      const replacements = new Map<string, D>();
      // The senders (clinic + phone) a written row was or now is on: their rosters change.
      const senders = new Map<string, { clinicId: string; phone: string }>();
      const noteSender = (row: unknown): void => {
        const { clinicId, phone } = (row ?? {}) as { clinicId?: unknown; phone?: unknown };
        if (typeof clinicId === 'string' && typeof phone === 'string') {
          senders.set(senderId(clinicId, phone), { clinicId, phone });
        }
      };
      for (const doc of batch) {
        const existing = current.get(doc._id);
        if (existing === undefined || !isDeepStrictEqual(existing, doc)) {
          noteSender(existing);
          noteSender(doc);
        }
        if (existing === undefined) {
          summary.inserted += 1;
          inserts.set(doc._id, doc);
        } else if (isDeepStrictEqual(existing, doc)) {
          summary.unchanged += 1;
          continue;
        } else {
          summary.updated += 1;
          // A row repeated in one batch: the last one wins, as with sequential writes.
          (inserts.has(doc._id) ? inserts : replacements).set(doc._id, doc);
        }
        current.set(doc._id, doc);
      }
      if (dryRun) {
        continue;
      }
      if (inserts.size > 0) {
        try {
          await collection.insertMany([...inserts.values()] as never[], { ordered: true });
        } catch (err) {
          if (!isDuplicateKey(err)) {
            throw err;
          }
          // Someone else inserted some of them meanwhile: write them all as replacements.
          for (const doc of inserts.values()) {
            replacements.set(doc._id, doc);
          }
        }
      }
      const writes: AnyBulkWriteOperation<D>[] = [...replacements.values()].map((doc) => ({
        replaceOne: { filter: { _id: doc._id } as never, replacement: doc as never, upsert: true },
      }));
      for (let i = 0; i < writes.length; i += REPLACE_BULK) {
        await collection.bulkWrite(writes.slice(i, i + REPLACE_BULK), { ordered: true });
      }
      if (afterBatch && senders.size > 0) {
        await afterBatch(senders);
      }
    }
    return summary;
  }

  async getAppointment(id: string): Promise<Appointment | null> {
    return storeOperation('getAppointment', async () => {
      const doc = await this.appointments.findOne({ _id: id }, { maxTimeMS: this.maxTimeMS });
      return doc ? docToAppointment(doc) : null;
    });
  }
}
