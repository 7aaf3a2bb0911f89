import type {
  Appointment,
  AppointmentTransition,
  InboxItem,
  MessageCompletion,
  MessageRecord,
  OptOutRecord,
  Patient,
  ResponseKind,
  SenderState,
} from '../domain.js';

export type ClaimResult = { claimed: true } | { claimed: false; existing: MessageRecord };

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
  completeMessage(messageSid: string, completion: MessageCompletion): Promise<void>;
  getMessage(messageSid: string): Promise<MessageRecord | null>;
  /**
   * Notes a repeated delivery on the MessageSid's record (duplicateDeliveries + 1,
   * lastDuplicateAt), so the audit trail shows every request.
   */
  recordDuplicate(messageSid: string, at: Date): Promise<void>;
  listMessages(query: MessageQuery): AsyncIterable<MessageRecord>;

  findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]>;
  /** The soonest appointment at or after `now` among the patients, not cancelled. */
  findNextAppointment(clinicId: string, patientIds: readonly string[], now: Date): Promise<Appointment | null>;
  /**
   * Atomically records a patient's response `to` on the soonest upcoming (startsAt >= now),
   * not cancelled appointment among the patients, if what the patient sees
   * (appointmentStatus) ranks below `to` (APPOINTMENT_STATUS_RANK): its patientResponse
   * becomes `{ kind: to, at, messageSid }` from `by`. Otherwise it stays as it is. Returns it
   * as it was before and after (both null: none upcoming); a response whose messageSid is
   * the caller's shows that message made the change, even on a retry that changes nothing.
   * Nothing else is looked at: a later appointment never moves in its place. At the same
   * response kind the earlier `at` stays (the first request; only differs under clock skew),
   * and at the same `at` the smaller messageSid (so both stores agree).
   * Never touches the practice-owned fields.
   */
  advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: ResponseKind, by: ResponseSource): Promise<AppointmentTransition>;

  /**
   * Counts one message in the sender's rate window and reads, in the same step, the
   * opt-out state and the clinic's patients on the phone (as findPatientsByPhone gives them).
   */
  touchSender(clinicId: string, phone: string, window: RateWindow): Promise<SenderState>;
  /** Reads the opt-out state without counting (simulate, audits). */
  getOptOut(clinicId: string, phone: string): Promise<OptOutRecord | null>;
  setOptOut(record: OptOutRecord): Promise<void>;

  /** Idempotent by item id. */
  addInboxItem(item: InboxItem): Promise<void>;
  listInbox(clinicId: string): Promise<InboxItem[]>;

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
