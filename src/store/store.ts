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
  /** Up to `limit` records claimed with `mediaPending`, oldest first (the media relay's input). */
  pendingMedia(limit: number): Promise<MessageRecord[]>;
  /** Removes `mediaPending` from the record (its media jobs exist now). */
  clearMediaPending(messageSid: string): Promise<void>;

  findPatientsByPhone(clinicId: string, phone: string): Promise<Patient[]>;
  /** The soonest appointment at or after `now` among the patients, not cancelled. */
  findNextAppointment(clinicId: string, patientIds: readonly string[], now: Date): Promise<Appointment | null>;
  /**
   * Atomically advances the soonest upcoming (startsAt >= now), not cancelled appointment
   * among the patients to `to` if its status ranks below `to` (APPOINTMENT_STATUS_RANK)
   * and its last patient response (updatedAt) is not newer than `at`, the message's
   * receive time; the move sets updatedAt = at. Otherwise it stays as it is. Returns it as
   * it was before and after: the statuses differ when it moved and are equal when it did
   * not (both null: none upcoming); `after.updatedAt > at` then says the message was
   * stale. Nothing else is looked at: a later appointment never moves in its place, not
   * even when the soonest one refuses a stale message.
   */
  advanceNextAppointment(clinicId: string, patientIds: readonly string[], now: Date, to: AppointmentStatus, at: Date): Promise<AppointmentTransition>;

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

  upsertPatients(patients: readonly Patient[]): Promise<UpsertSummary>;
  upsertAppointments(appointments: readonly Appointment[]): Promise<UpsertSummary>;
  getAppointment(id: string): Promise<Appointment | null>;
}
