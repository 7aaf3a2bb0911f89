/**
 * Plain domain types shared by every layer. No behaviour, no imports of frameworks.
 */

/** The reply when a message cannot be handled and the clinic's own system-error template is not known. */
export const SYSTEM_ERROR_TEXT = "We're experiencing technical difficulties. Please try again later or call our office.";

export const APPOINTMENT_STATUSES = ['scheduled', 'confirmed', 'cancel-requested', 'reschedule-requested', 'cancelled'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/**
 * Where each status stands on the way from booked to cancelled. Patient messages only
 * ever move an appointment up this chain (CONFIRM, then RESCHEDULE, then CANCEL; never
 * back), which is what lets one atomic update both decide and make the move.
 */
export const APPOINTMENT_STATUS_RANK: Readonly<Record<AppointmentStatus, number>> = {
  scheduled: 0,
  confirmed: 1,
  'reschedule-requested': 2,
  'cancel-requested': 3,
  cancelled: 4,
};

export interface MediaItem {
  url: string;
  contentType: string;
}

/** A Twilio inbound message after normalization: every value a plain string. */
export interface InboundMessage {
  messageSid: string;
  accountSid?: string;
  messagingServiceSid?: string;
  from: string;
  to: string;
  body: string;
  numMedia: number;
  media: MediaItem[];
  numSegments?: string;
  optOutType?: string;
  /** FromCity, ToCountry and the rest, and any parameter Twilio adds without notice. */
  extra: Record<string, string>;
}

export interface Weekly {
  /** 'HH:MM' local. */
  open: string;
  close: string;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface Clinic {
  id: string;
  name: string;
  phoneNumbers: string[];
  officePhone?: string;
  timezone: string;
  /** Missing: always open. A day missing from the map: closed that day. */
  businessHours?: Partial<Record<Weekday, Weekly[]>>;
  languages: string[];
  authTokenEnv?: string;
  /** The Twilio account the clinic's numbers live in: picks its token for a message whose To no clinic owns. */
  accountSid?: string;
  /** Default region for numbers written without a country code (ISO 3166 alpha-2). */
  defaultRegion: string;
  /** Messages a minute per sender before replies stop. */
  rateLimitPerMinute: number;
  autoReply: boolean;
}

export interface Patient {
  id: string;
  clinicId: string;
  firstName: string;
  lastName: string;
  /** E.164. */
  phone: string;
  language?: string;
}

export interface Appointment {
  id: string;
  clinicId: string;
  patientId: string;
  startsAt: Date;
  provider?: string;
  status: AppointmentStatus;
  updatedAt?: Date;
}

export type MessageStatus = 'received' | 'processed' | 'duplicate' | 'unknown-number' | 'rate-limited' | 'error' | 'replayed' | 'rejected';

export interface ActionRecord {
  type: string;
  outcome: string;
  ruleName: string;
  detail?: Record<string, string | number | boolean | null>;
}

/** One audit record per inbound request that passed the signature check. */
export interface MessageRecord {
  messageSid: string;
  clinicId: string | null;
  message: InboundMessage;
  receivedAt: Date;
  status: MessageStatus;
  patientIds: string[];
  rulesFired: string[];
  actions: ActionRecord[];
  /** The reply text sent (null: no reply). */
  reply: string | null;
  completedAt?: Date;
  timings?: Record<string, number>;
  /** Error code when status is error. */
  error?: string;
  /** How the record got here: the webhook, or a replay from the spool. */
  via: 'webhook' | 'replay';
  /**
   * When the webhook's deadline passed before the message was handled: the delivery that
   * owned it answered the system-error text (and spooled it), and so does every repeat;
   * the replay applies it. Absent: the record's own reply (or none) was the answer.
   */
  gaveUpAt?: Date;
  /** Repeated deliveries of this MessageSid, each answered with the stored reply (absent: none). */
  duplicateDeliveries?: number;
  lastDuplicateAt?: Date;
}

export type MessageCompletion = Pick<MessageRecord, 'status' | 'patientIds' | 'rulesFired' | 'actions' | 'reply'> &
  Partial<Pick<MessageRecord, 'timings' | 'error' | 'completedAt' | 'clinicId' | 'gaveUpAt'>>;

export interface SenderState {
  /** Messages counted in the current rate window, this one included. */
  count: number;
  optedOut: boolean;
  /** The clinic's patients on this phone (a family may share one), by id: what findPatientsByPhone returns. */
  patients: Patient[];
}

export interface OptOutRecord {
  clinicId: string;
  phone: string;
  optedOut: boolean;
  changedAt: Date;
  messageSid?: string;
  keyword?: string;
}

export type InboxKind = 'message' | 'cancel-request' | 'reschedule-request';

export interface InboxItem {
  /** Deterministic (messageSid + kind), so a replay never makes a second item. */
  id: string;
  clinicId: string;
  kind: InboxKind;
  messageSid: string;
  from: string;
  patientIds: string[];
  appointmentId?: string;
  body: string;
  media: MediaItem[];
  createdAt: Date;
  status: 'open' | 'done';
}

/** The outcome of moving the next upcoming appointment to a new status. */
export interface AppointmentTransition {
  /** The appointment as it was before (null: none upcoming). */
  before: Appointment | null;
  after: Appointment | null;
}
