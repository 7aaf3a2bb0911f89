/**
 * Plain domain types shared by every layer, and the few pure rules that define them
 * (the status rank, appointmentStatus). No I/O, no imports of frameworks.
 */

/** The reply when a message cannot be handled and the clinic's own system-error template is not known. */
export const SYSTEM_ERROR_TEXT = "We're experiencing technical difficulties. Please try again later or call our office.";

/**
 * The status a patient sees (the `appointment.status` fact, the rules tests' statuses):
 * the patient's response over the practice's status, unless the practice cancelled
 * (appointmentStatus).
 */
export const APPOINTMENT_STATUSES = ['scheduled', 'confirmed', 'cancel-requested', 'reschedule-requested', 'cancelled'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/**
 * What the practice system says about an appointment (the import file's `status`):
 * booked, confirmed at the office (a phone call), or cancelled. Only an import writes it.
 */
export const IMPORTED_STATUSES = ['scheduled', 'confirmed', 'cancelled'] as const;
export type ImportedStatus = (typeof IMPORTED_STATUSES)[number];

/** What a patient can say about an appointment by SMS. Only the appointment actions write it. */
export const RESPONSE_KINDS = ['confirmed', 'reschedule-requested', 'cancel-requested'] as const;
export type ResponseKind = (typeof RESPONSE_KINDS)[number];

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

/**
 * A day or days the clinic is closed (a holiday): local dates, both ends included. While it
 * lasts the clinic is out of business hours, and the rules' `closed-today` reply is the
 * closure's own text when it gives one.
 */
export interface Closure {
  /** 'YYYY-MM-DD', the first closed day (local). */
  from: string;
  /** 'YYYY-MM-DD', the last closed day (local); the same as `from` for one day. */
  to: string;
  reason?: string;
  /** The reply on those days, by language ("*": every language). */
  reply?: Readonly<Record<string, string>>;
  /** Where it is written in the clinics file, for `rules check`. */
  source?: { file: string; line: number; col: number };
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
  /** Days the clinic is closed whatever its business hours say (clinics file `closures:`). */
  closures?: readonly Closure[];
  languages: string[];
  authTokenEnv?: string;
  /** The Twilio account the clinic's numbers live in: picks its token for a message whose To no clinic owns. */
  accountSid?: string;
  /** Default region for numbers written without a country code (ISO 3166 alpha-2). */
  defaultRegion: string;
  /** Messages a minute per sender before replies stop. */
  rateLimitPerMinute: number;
  /** Staff replies: the most SMS segments one reply may take (absent: DEFAULT_REPLY_MAX_SEGMENTS, 10). */
  replyMaxSegments?: number;
  /** Staff replies: the most one API key may send a minute (absent: DEFAULT_REPLIES_PER_KEY_PER_MINUTE, 30). */
  repliesPerKeyPerMinute?: number;
  autoReply: boolean;
  /** Where the clinic's events go (clinics file `events:`; docs/events.md). */
  events?: readonly EventEndpointConfig[];
  /** Delete Twilio's copy of a media file once ours is kept (default false; docs/media.md). */
  deleteMediaFromTwilio?: boolean;
  /** A Twilio API key (SK…) to fetch media with instead of the account's auth token. */
  apiKeySid?: string;
  /** The environment variable holding that API key's secret. */
  apiKeySecretEnv?: string;
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

/** A patient's standing answer about an appointment, by SMS. */
export interface PatientResponse {
  kind: ResponseKind;
  /** When the message that said it arrived. */
  at: Date;
  /** The message that said it (absent only on responses upgraded from before patientResponse existed). */
  messageSid?: string;
}

/** A response an import retired: the appointment moved or the practice cancelled it. */
export interface RetiredResponse extends PatientResponse {
  retiredAt: Date;
  reason: 'moved' | 'cancelled';
}

/**
 * An appointment, in two parts with one writer each (docs/DESIGN.md, "Appointments: who
 * owns what"): the practice system's fields, which only an import writes, and the
 * patient's response, which only the appointment actions write. What the patient sees
 * is appointmentStatus().
 */
export interface Appointment {
  id: string;
  clinicId: string;
  patientId: string;
  startsAt: Date;
  provider?: string;
  /** The practice system's status, as last imported. */
  status: ImportedStatus;
  /** What the patient said by SMS; absent until they do, and after an import retired it. */
  patientResponse?: PatientResponse;
  /** Responses imports retired, oldest first (absent: none). */
  responseHistory?: RetiredResponse[];
}

/**
 * The status the patient sees and the rules decide on: the patient's response over the
 * practice's status, unless the practice cancelled. A response only ever stands on an
 * appointment that is not cancelled (a cancelling import retires it), and ranks at or
 * above any other imported status, so "over" is also "the higher of the two".
 * @param appointment - its imported status and response
 */
export function appointmentStatus(appointment: Pick<Appointment, 'status' | 'patientResponse'>): AppointmentStatus {
  if (appointment.status === 'cancelled' || !appointment.patientResponse) {
    return appointment.status;
  }
  return appointment.patientResponse.kind;
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
  /**
   * The events the message produced (docs/events.md), written by its completion: the
   * durable outbox. A background relay copies them to the events collection.
   */
  outbox?: OutboxEvent[];
  /**
   * Set on the claim of a message with media to a known clinic (it rides in the claim's
   * insert: no extra command), removed once the media relay has made the message's media
   * jobs (src/media/media-relay.ts).
   */
  mediaPending?: true;
  /**
   * A family phone's "which appointment?" question this message asked, answered, or came
   * while it was pending (free text for staff), or the list it went to staff with: the
   * staff thread shows it next to the message.
   */
  choice?: PendingChoice;
  /** The message may revoke consent in plain words (message.revocation possible): staff treat it as a possible opt-out. */
  possibleOptOut?: true;
}

export type MessageCompletion = Pick<MessageRecord, 'status' | 'patientIds' | 'rulesFired' | 'actions' | 'reply'> &
  Partial<Pick<MessageRecord, 'timings' | 'error' | 'completedAt' | 'clinicId' | 'outbox' | 'gaveUpAt' | 'choice' | 'possibleOptOut'>>;

export interface SenderState {
  /** Messages counted in the current rate window, this one included. */
  count: number;
  optedOut: boolean;
  /** The clinic's patients on this phone (a family may share one), by id: what findPatientsByPhone returns. */
  patients: Patient[];
  /** The "which appointment?" question the sender has not answered yet (absent: none; it may have expired). */
  choice?: PendingChoice;
  /** When staff last replied or wrote a note in the sender's conversation (absent: never). */
  staffAt?: Date;
  /** When the last automatic reply of each remembered kind (the template's name) went out to the sender. */
  autoReplies?: Record<string, Date>;
}

/** The appointment actions a pending choice applies once answered. */
export const CHOICE_ACTIONS = ['confirm-appointment', 'cancel-appointment', 'reschedule-appointment'] as const;
export type ChoiceAction = (typeof CHOICE_ACTIONS)[number];

/** One appointment offered by a "which appointment?" question: number n is options[n - 1]. */
export interface ChoiceOption {
  appointmentId: string;
  patientId: string;
  firstName: string;
  startsAt: Date;
}

/**
 * A family phone's "which appointment?" question, kept with the sender (clinic + phone) so
 * every instance sees it: the action the keyword asked for, the appointments offered, and
 * the message that asked. Written as of that message's receive time: a replayed older
 * question never replaces a newer one.
 */
export interface PendingChoice {
  action: ChoiceAction;
  options: ChoiceOption[];
  /** The asking message and when it arrived. */
  messageSid: string;
  askedAt: Date;
  expiresAt: Date;
  /** Answers that matched no option so far. */
  attempts: number;
  /** The language the question was asked in. */
  language: string;
}

export interface OptOutRecord {
  clinicId: string;
  phone: string;
  optedOut: boolean;
  changedAt: Date;
  messageSid?: string;
  keyword?: string;
}

/** Why a message reaches staff: a rule routed it, asked for a change staff make, or the pipeline could not answer it. */
export const STAFF_REASONS = ['message', 'cancel-request', 'reschedule-request', 'unknown-number', 'over-limit'] as const;
export type StaffReason = (typeof STAFF_REASONS)[number];

/** How soon staff must act on a message a rule routed: urgent ones come first in their lists. */
export const STAFF_PRIORITIES = ['urgent', 'normal'] as const;
export type StaffPriority = (typeof STAFF_PRIORITIES)[number];

/** One inbound message put in front of staff. */
export interface ToStaff {
  clinicId: string;
  message: InboundMessage;
  /** The clinic's patients on the sender's phone (none: an unknown number). */
  patients: readonly Patient[];
  at: Date;
  reason: StaffReason;
  /** The appointment a cancel or reschedule request concerns. */
  appointmentId?: string;
  /** How soon staff must act (route-to-staff's `priority`; absent: normal). */
  priority?: StaffPriority;
  /** The rule's short reason for that priority, shown to staff ("chest pain"). */
  priorityReason?: string;
  /** The message may revoke consent (message.revocation possible): staff see it marked as a possible opt-out. */
  possibleOptOut?: true;
}

/**
 * The port through which the message pipeline and the actions put a message in front of
 * staff. The conversations feature implements it (the sender's conversation is opened or
 * reopened, waiting since the message), at one store command a call; a replay of the same
 * message changes nothing more. Defined here because the pipeline sits below the feature.
 */
export interface StaffRouting {
  routed(item: ToStaff): Promise<void>;
}

/** The outcome of moving the next upcoming appointment to a new status. */
export interface AppointmentTransition {
  /** The appointment as it was before (null: none upcoming). */
  before: Appointment | null;
  after: Appointment | null;
}

/** Every event type a message can produce (`ping` is only sent by `events send-test`; docs/events.md). */
export const EVENT_TYPES = [
  'appointment.confirmed',
  'appointment.cancel_requested',
  'appointment.reschedule_requested',
  'consent.opted_out',
  'consent.opted_in',
  'message.routed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A value an event's thin `data` may hold: ids, statuses, times (ISO text), counts. */
export type EventValue = string | number | boolean | null | readonly string[];

/**
 * One event a message produced, as it rides in the message's completion write (the
 * outbox) and later in each delivery. `data` is thin: ids, statuses and times; the
 * sender's phone only in consent events; never a body or a name.
 */
export interface OutboxEvent {
  /** Deterministic: eventId(messageSid, type, subject); the `webhook-id` of every attempt. */
  id: string;
  type: EventType;
  clinicId: string;
  messageSid: string;
  /** When it happened (the envelope's `timestamp`). */
  occurredAt: Date;
  /** When the message arrived: the start of the delivery latency measured to the receiver's 2xx. */
  receivedAt: Date;
  data: Record<string, EventValue>;
}

/** Where a setting is written, for the start-up findings that need the environment. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** One `events:` entry of a clinic, as written in the clinics file. */
export interface EventEndpointConfig {
  url: string;
  /** The variable holding the `whsec_` secret; `<secretEnv>_PREVIOUS` holds the one being rotated out. */
  secretEnv: string;
  /** The types it receives; null: every type. */
  types: EventType[] | null;
  /** `http:` allowed in production. */
  allowInsecure: boolean;
  at: SourcePosition;
}
