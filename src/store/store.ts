import type {
  Appointment,
  AppointmentTransition,
  MessageCompletion,
  MessageRecord,
  OptOutRecord,
  OutboxEvent,
  Patient,
  PendingChoice,
  ResponseKind,
  SenderState,
} from '../domain.js';

export type ClaimResult = { claimed: true } | { claimed: false; existing: MessageRecord };

/**
 * What a consent change did: applied, or not, because the stored state comes from a
 * newer message (`current`, whose changedAt is later than this change's).
 */
export type OptOutWrite = { applied: true } | { applied: false; current: OptOutRecord };

export interface UpsertSummary {
  inserted: number;
  updated: number;
  unchanged: number;
}

export interface AppointmentUpsertSummary extends UpsertSummary {
  /** Patient responses the import moved into responseHistory (startsAt moved, or cancelled). */
  retiredResponses: number;
}

export interface UpsertOptions {
  /** Count what the upsert would do, and write nothing (import --dry-run). */
  dryRun?: boolean;
  /** When the import runs: a retired response's retiredAt (default: now). */
  at?: Date;
}

/** The message behind a patient's response: it becomes the appointment's patientResponse. */
export interface ResponseSource {
  /** When the message arrived. */
  at: Date;
  messageSid: string;
}

export interface MessageQuery {
  clinicId: string;
  since: Date;
  until: Date;
}

/** A finished message whose events wait for the events relay (src/events/relay.ts). */
export interface PendingOutbox {
  messageSid: string;
  events: OutboxEvent[];
}

/** The rate window a message counts in: a key and when its counter may be forgotten. */
export interface RateWindow {
  key: string;
  expiresAt: Date;
}

/**
 * The Store port, in domain terms. Adapters: memory/ (embedded, tests and demo) and
 * mongo/ (production). Both pass test/contract/store.contract.ts. Every method returns
 * plain objects the caller may keep and mutate.
 */
export interface Store {
  readonly kind: 'memory' | 'mongo';
  /** Creates indexes. Safe to call again. */
  init(): Promise<void>;
  /** Resolves when the database answers; rejects with STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Inserts the first record of a MessageSid; a second claim gets the stored record. */
  claimMessage(record: MessageRecord): Promise<ClaimResult>;
  /**
   * Writes the record's completion. With `unlessGivenUp` (the webhook's own completion) it
   * writes nothing when the record has `gaveUpAt` (giveUpMessage won the race), in the same
   * atomic command. Resolves to whether it wrote.
   */
  completeMessage(messageSid: string, completion: MessageCompletion, options?: { unlessGivenUp?: boolean }): Promise<boolean>;
  /**
   * The webhook's deadline passed: atomically sets `gaveUpAt` on the record if it is still
   * 'received' and not given up, so that it and the pipeline's completion (unlessGivenUp)
   * cannot both win. Resolves to the record as it is afterwards (null: none): `gaveUpAt`
   * set means the system-error text is the answer, otherwise the completion won.
   */
  giveUpMessage(messageSid: string, at: Date): Promise<MessageRecord | null>;
  getMessage(messageSid: string): Promise<MessageRecord | null>;
  /**
   * Notes a repeated delivery on the MessageSid's record (duplicateDeliveries + 1,
   * lastDuplicateAt), so the audit trail shows every request.
   */
  recordDuplicate(messageSid: string, at: Date): Promise<void>;
  listMessages(query: MessageQuery): AsyncIterable<MessageRecord>;
  /**
   * Up to `limit` messages completed with events that the relay has not copied yet, oldest
   * first (the events relay's input; the events ride in the completion write, flagged pending).
   */
  pendingOutboxes(limit: number): Promise<PendingOutbox[]>;
  /** Clears the message's pending flag (the outbox itself stays on the record, for audit). */
  clearOutbox(messageSid: string): Promise<void>;
  /** Up to `limit` records claimed with `mediaPending`, oldest first (the media relay's input). */
  pendingMedia(limit: number): Promise<MessageRecord[]>;
  /** Removes `mediaPending` from the record (its media jobs exist now). */
  clearMediaPending(messageSid: string): Promise<void>;
  /** How many records are claimed with `mediaPending` (the media relay's backlog, a metric). */
  countMediaPending(): Promise<number>;

  findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]>;
  /**
   * The clinic's patients whose first or last name starts with each word of `words` (already
   * split, letter case aside: "park dy" finds Dylan Park), by last name, first name, id; at most
   * `limit`. For staff who start a conversation by a patient's name.
   */
  searchPatientsByName(clinicId: string, words: readonly string[], limit: number): Promise<Patient[]>;
  /** One patient of a clinic by id (null: none, or another clinic's). */
  getPatient(clinicId: string, patientId: string): Promise<Patient | null>;
  /** The soonest appointment at or after `now` among the patients, not cancelled. */
  findNextAppointment(clinicId: string, patientIds: readonly string[], now: Date): Promise<Appointment | null>;
  /**
   * Atomically records a patient's response `to` on the soonest upcoming (startsAt >= now),
   * not cancelled appointment among the patients, if what the patient sees
   * (appointmentStatus) ranks below `to` (APPOINTMENT_STATUS_RANK) and its stored patient
   * response is not newer than `by.at`, the message's receive time (kept through the
   * spool): responses follow the order patients texted. Its patientResponse then becomes
   * `{ kind: to, at, messageSid }` from `by`. Otherwise it stays as it is. Returns it as it
   * was before and after (both null: none upcoming); a response whose messageSid is the
   * caller's shows that message made the change, even on a retry that changes nothing; a
   * response newer than `by.at` shows the message was stale. Nothing else is looked at: a
   * later appointment never moves in its place, not even when the soonest one refuses a
   * stale message. At the same response kind the stored one stays (a later one is blocked,
   * an earlier one stale); only at the same `at` does the smaller messageSid win (so both
   * stores agree). Never touches the practice-owned fields.
   */
  advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition>;
  /**
   * Every upcoming (startsAt in [now, until)), not cancelled appointment among the patients,
   * soonest first (then id): what a family phone's "which appointment?" question offers.
   */
  findUpcomingAppointments(clinicId: string, patientIds: readonly string[], now: Date, until: Date): Promise<Appointment[]>;
  /**
   * As advanceNextAppointment, on the appointment `appointmentId` (one a family chose)
   * instead of the soonest: it must be upcoming, not cancelled and one of the patients'.
   */
  advanceAppointment(clinicId: string, patientIds: readonly string[], appointmentId: string, now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition>;

  /**
   * Keeps `choice` as the sender's pending choice, one command, unless the stored one was
   * asked by a newer message (stored askedAt later than choice.askedAt). Resolves to whether it wrote.
   */
  saveChoice(clinicId: string, phone: string, choice: PendingChoice): Promise<boolean>;
  /** Forgets the sender's pending choice if it is the one `messageSid` asked (a newer one stays). */
  clearChoice(clinicId: string, phone: string, messageSid: string): Promise<void>;
  /** Notes that staff replied or wrote in the sender's conversation at `at` (kept if newer). */
  noteStaffActivity(clinicId: string, phone: string, at: Date): Promise<void>;
  /** Notes that an automatic reply of `kind` (a template name) went out to the sender at `at` (kept if newer). */
  noteAutoReply(clinicId: string, phone: string, kind: string, at: Date): Promise<void>;
  /** The sender's pending choice, staff activity and automatic replies, without counting (simulate). */
  peekSender(clinicId: string, phone: string): Promise<Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'>>;

  /**
   * Counts one message in the sender's rate window and reads, in the same step, the
   * opt-out state and the clinic's patients on the phone (as findPatientsByPhone gives them).
   */
  touchSender(clinicId: string, phone: string, window: RateWindow): Promise<SenderState>;
  /** Reads the opt-out state without counting (simulate, audits). */
  getOptOut(clinicId: string, phone: string): Promise<OptOutRecord | null>;
  /**
   * Sets the opt-out state, in one atomic command, unless the stored state was set by a
   * newer message (stored changedAt later than `record.changedAt`, the message's receive
   * time): consent follows the order patients texted, not the order we processed. An
   * equal time applies (a replay of the same message is idempotent).
   */
  setOptOut(record: OptOutRecord): Promise<OptOutWrite>;

  upsertPatients(patients: readonly Patient[], options?: Pick<UpsertOptions, 'dryRun'>): Promise<UpsertSummary>;
  /**
   * Imports appointments by id: writes only the practice-owned fields (upsertAppointment in
   * appointment-upsert.ts); a patient's response stays unless the row moves startsAt or
   * cancels, which retires it into responseHistory. Never erases a response written
   * meanwhile by a message: the write is conditional on the response it read.
   */
  upsertAppointments(appointments: readonly Appointment[], options?: UpsertOptions): Promise<AppointmentUpsertSummary>;
  /** The clinic of each of these patient ids that the store holds (absent: not stored). */
  findPatientClinics(patientIds: readonly string[]): Promise<Map<string, string>>;
  getAppointment(id: string): Promise<Appointment | null>;
}
