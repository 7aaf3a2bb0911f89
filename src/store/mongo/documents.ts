import {
  APPOINTMENT_STATUS_RANK,
  type Appointment,
  type AppointmentStatus,
  type ImportedStatus,
  type MessageRecord,
  type OptOutRecord,
  type Patient,
  type PendingChoice,
  type ResponseKind,
  type RetiredResponse,
  type SenderState,
} from '../../domain.js';

/**
 * How domain objects are kept in MongoDB: plain documents whose `_id` is the domain id
 * (so the primary key doubles as the idempotency key), Dates as BSON dates, and
 * `_id` stripped on the way out. Only the message's free-form `extra` map changes
 * shape: Twilio may add any parameter, and field names with `.` or a leading `$` are
 * not portable across MongoDB-compatible servers, so it is stored as key/value pairs,
 * and an appointment keeps what the patient sees as one comparable value
 * (AppointmentStatusDoc).
 */

export interface PatientDoc extends Patient {
  _id: string;
}

/**
 * What the patient sees of an appointment, as stored: `{ order, name, since?, messageSid? }`,
 * in that key order. Without a patient response it is the imported status alone
 * (`{ order, name }`); with one it is the response (`name` its kind, `since` its time,
 * `messageSid` its message). `order` is minus the status's rank (APPOINTMENT_STATUS_RANK),
 * so by BSON comparison (numbers, then the name, then the date, then the sid; a missing
 * field is smaller) a later status is the *smaller* value, and at the same status the
 * imported one, then the earlier response is. That makes "record the response `to` unless
 * the patient already sees it or beyond, keeping the first one" a single
 * `$min: { status: <to> }`: one atomic command that needs no pipeline update (FerretDB has
 * none). The practice's own status is kept beside it in `imported`.
 */
export interface AppointmentStatusDoc {
  order: number;
  name: AppointmentStatus;
  since?: Date;
  messageSid?: string;
}

export interface AppointmentDoc extends Omit<Appointment, 'status' | 'patientResponse'> {
  _id: string;
  /** The practice system's status (Appointment.status). */
  imported: ImportedStatus;
  status: AppointmentStatusDoc;
  responseHistory?: RetiredResponse[];
}

export interface MessageDoc extends Omit<MessageRecord, 'message'> {
  _id: string;
  message: Omit<MessageRecord['message'], 'extra'> & { extra: { k: string; v: string }[] };
  /** Present (true) only while the completion's outbox waits for the events relay: a sparse index holds just those. */
  outboxPending?: true;
}

/**
 * One document per sender (clinic + phone) in `optOuts`: the opt-out state once the
 * sender has opted out or in, and the rate counters of the sender's current window,
 * so one findOneAndUpdate both counts a message and reads the opt-out state.
 */
export interface SenderDoc {
  _id: string;
  clinicId: string;
  phone: string;
  /** Absent until the sender first opts out or in. */
  optedOut?: boolean;
  changedAt?: Date;
  messageSid?: string;
  keyword?: string;
  /** Message count by rate window key (see rateField). */
  rate?: Record<string, number>;
  /**
   * The clinic's patients on this phone, keyed by rosterKey(id): a copy of what `patients`
   * holds, so the one findOneAndUpdate that counts a message also says who sent it.
   * Absent until built (by an import that touches the phone, or by the first message,
   * from `patients`); an empty object means no patient has this phone.
   */
  roster?: Record<string, Patient>;
  /** The sender's pending "which appointment?" question (absent: none). */
  choice?: PendingChoice;
  /** When staff last replied or wrote a note in the sender's conversation. */
  staffAt?: Date;
  /** When the last automatic reply of each remembered kind (a template name) went out. */
  autoReplies?: Record<string, Date>;
}

/** What the sender's document remembers about the conversation, as SenderState gives it. */
export function senderMemo(doc: Pick<SenderDoc, 'choice' | 'staffAt' | 'autoReplies'> | null): Pick<SenderState, 'choice' | 'staffAt' | 'autoReplies'> {
  return compact({ choice: doc?.choice, staffAt: doc?.staffAt, autoReplies: doc?.autoReplies });
}

/** A roster field name for a patient id: hex, so dots, dollars and digits in ids cannot make a path. */
export const rosterKey = (patientId: string): string => `p${Buffer.from(patientId, 'utf8').toString('hex')}`;

/** Code-unit order of ids, as MongoDB sorts strings (and findPatientsByPhone returns patients). */
export const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function toRoster(patients: readonly Patient[]): Record<string, Patient> {
  const roster: Record<string, Patient> = {};
  for (const p of patients) {
    roster[rosterKey(p.id)] = docToPatient(patientToDoc(p));
  }
  return roster;
}

export function rosterToPatients(roster: Record<string, Patient>): Patient[] {
  return Object.values(roster)
    .map((p) => docToPatient(p as PatientDoc))
    .sort(byId);
}

/** The `_id` of a sender document. Clinic ids and E.164 numbers never contain a colon. */
export const senderId = (clinicId: string, phone: string): string => `${clinicId}:${phone}`;

/**
 * The field name of a rate window's counter under `rate`. Window keys are ours (e.g.
 * "2026-05-01T10:05") but `.` would make a nested path and `$` an operator, so both
 * are replaced.
 */
export const rateField = (windowKey: string): string => windowKey.replace(/[.$]/g, '_');

/** Drops keys whose value is undefined, so stored and compared shapes match. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) {
      out[key] = v;
    }
  }
  return out as T;
}

/** Removes `_id` from a document read back. */
export function stripId<T extends { _id: unknown }>(doc: T): Omit<T, '_id'> {
  const { _id: _ignored, ...rest } = doc;
  return rest;
}

export function patientToDoc(p: Patient): PatientDoc {
  return compact({ _id: p.id, id: p.id, clinicId: p.clinicId, firstName: p.firstName, lastName: p.lastName, phone: p.phone, language: p.language });
}

export function docToPatient(doc: PatientDoc): Patient {
  return stripId(doc);
}

/** The stored form of the imported status alone (see AppointmentStatusDoc); keys in comparison order. */
export function statusToDoc(status: AppointmentStatus): AppointmentStatusDoc {
  // `0 - rank`, not `-rank`: -0 would be stored as a double -0 by MongoDB and read back unequal to 0.
  return { order: 0 - APPOINTMENT_STATUS_RANK[status], name: status };
}

/** The stored form of a patient's response (see AppointmentStatusDoc); keys in comparison order. */
export function responseToDoc(kind: ResponseKind, at: Date, messageSid: string | undefined): AppointmentStatusDoc {
  return compact({ ...statusToDoc(kind), since: at, messageSid });
}

/**
 * What `$min: { status: target }` leaves, by the BSON comparison for these shapes
 * (same order: same name; then a missing field is smaller than any value).
 */
export function minStatus(current: AppointmentStatusDoc, target: AppointmentStatusDoc): AppointmentStatusDoc {
  if (current.order !== target.order) {
    return current.order < target.order ? current : target;
  }
  for (const key of ['since', 'messageSid'] as const) {
    const [a, b] = [current[key], target[key]];
    if (a === undefined || b === undefined) {
      if (a !== undefined || b !== undefined) {
        return a === undefined ? current : target;
      }
      continue;
    }
    if (a.valueOf() !== b.valueOf()) {
      return a < b ? current : target;
    }
  }
  return current;
}

export function appointmentToDoc(a: Appointment): AppointmentDoc {
  const response = a.status === 'cancelled' ? undefined : a.patientResponse;
  return compact({
    _id: a.id,
    id: a.id,
    clinicId: a.clinicId,
    patientId: a.patientId,
    startsAt: a.startsAt,
    provider: a.provider,
    imported: a.status,
    status: response ? responseToDoc(response.kind, response.at, response.messageSid) : statusToDoc(a.status),
    responseHistory: a.responseHistory,
  });
}

export function docToAppointment(doc: AppointmentDoc): Appointment {
  const { status, imported, ...rest } = stripId(doc);
  // A `since` marks a patient's response; the imported status alone never has one.
  const response = status.since === undefined ? undefined : compact({ kind: status.name as ResponseKind, at: status.since, messageSid: status.messageSid });
  return compact({ ...rest, status: imported, patientResponse: response });
}

export function messageToDoc(record: MessageRecord): MessageDoc {
  const { extra, ...message } = record.message;
  return compact({
    ...record,
    _id: record.messageSid,
    message: { ...compact(message), extra: Object.entries(extra).map(([k, v]) => ({ k, v })) },
  });
}

export function docToMessage(doc: MessageDoc): MessageRecord {
  const { extra, ...message } = stripId(doc).message;
  // outboxPending is the events relay's flag, not part of the record.
  const { outboxPending: _pending, ...rest } = stripId(doc);
  return { ...rest, message: { ...message, extra: Object.fromEntries(extra.map(({ k, v }) => [k, v])) } };
}

/** The opt-out record of a sender document, or null when the sender never opted out or in. */
export function docToOptOut(doc: SenderDoc | null): OptOutRecord | null {
  if (!doc || typeof doc.optedOut !== 'boolean') {
    return null;
  }
  return compact({
    clinicId: doc.clinicId,
    phone: doc.phone,
    optedOut: doc.optedOut,
    changedAt: doc.changedAt ?? new Date(0),
    messageSid: doc.messageSid,
    keyword: doc.keyword,
  });
}
