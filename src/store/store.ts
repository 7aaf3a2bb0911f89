import type {
  Appointment,
  AppointmentStatus,
  AppointmentTransition,
  MessageCompletion,
  MessageRecord,
  OptOutRecord,
  Patient,
  SenderState,
} from '../domain.js';

export type ClaimResult = { claimed: true } | { claimed: false; existing: MessageRecord };

export interface UpsertSummary {
  inserted: number;
  updated: number;
  unchanged: number;
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
  /** Up to `limit` records claimed with `mediaPending`, oldest first (the media relay's input). */
  pendingMedia(limit: number): Promise<MessageRecord[]>;
  /** Removes `mediaPending` from the record (its media jobs exist now). */
  clearMediaPending(messageSid: string): Promise<void>;

  findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]>;
  /** The soonest appointment at or after `now` among the patients, not cancelled. */
  findNextAppointment(clinicId: string, patientIds: readonly string[], now: Date): Promise<Appointment | null>;
  /**
   * Atomically advances the soonest upcoming (startsAt >= now), not cancelled appointment
   * among the patients to `to` if its status ranks below `to` (APPOINTMENT_STATUS_RANK),
   * with updatedAt = now; otherwise it stays as it is. Returns it as it was before and
   * after: the statuses differ when it moved and are equal when it did not (both null:
   * none upcoming). Nothing else is looked at: a later appointment never moves in its
   * place. At an unchanged status updatedAt keeps the earlier of its value and `now`
   * (the first request for the status; only differs under clock skew).
   */
  advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: AppointmentStatus): Promise<AppointmentTransition>;

  /**
   * Counts one message in the sender's rate window and reads, in the same step, the
   * opt-out state and the clinic's patients on the phone (as findPatientsByPhone gives them).
   */
  touchSender(clinicId: string, phone: string, window: RateWindow): Promise<SenderState>;
  /** Reads the opt-out state without counting (simulate, audits). */
  getOptOut(clinicId: string, phone: string): Promise<OptOutRecord | null>;
  setOptOut(record: OptOutRecord): Promise<void>;

  upsertPatients(patients: readonly Patient[]): Promise<UpsertSummary>;
  upsertAppointments(appointments: readonly Appointment[]): Promise<UpsertSummary>;
  getAppointment(id: string): Promise<Appointment | null>;
}
