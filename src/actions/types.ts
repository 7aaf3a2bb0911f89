import type { ActionRecord, Appointment, ChoiceOption, Clinic, InboundMessage, Patient, PendingChoice, StaffPriority, StaffRouting } from '../domain.js';
import type { ChoiceReading } from '../rules/choice.js';
import type { RevocationReading } from '../rules/revocation.js';
import type { RulesSettings } from '../rules/rules-file.js';
import type { Store } from '../store/store.js';

/** What an action gets: the message, who sent it, the store, the way to staff, and the cached next appointment. */
export interface ActionContext {
  clinic: Clinic;
  message: InboundMessage;
  patients: readonly Patient[];
  /** The opt-out state before this message. */
  optedOut: boolean;
  now: Date;
  /**
   * When the message reached us (its first delivery; kept through the outage spool):
   * consent and appointment responses apply in this order, not in processing order, and
   * a patient's response is dated by it.
   */
  receivedAt: Date;
  store: Store;
  /** Where messages for staff go (the sender's conversation). */
  staff: StaffRouting;
  /** Compute the outcome without writing anything (rules simulate). */
  dryRun: boolean;
  ruleName: string;
  /** The rule's event parameters besides `reply` (route-to-staff: priority and reason). */
  params: ActionParams;
  /** The normalized first word. */
  keyword: string;
  /** The soonest upcoming appointment among the patients, looked up once per message and shared with the rule facts. */
  nextAppointment(): Promise<Appointment | null>;
  /** The keyword name the message starts with ("" when none). */
  command: string;
  /** The message read as an answer to a pending "which appointment?" question. */
  choice: ChoiceReading;
  /** What the message says about consent in plain words (message.revocation). */
  revocation: RevocationReading;
  /** The patients' upcoming appointments within the choice window, soonest first (shared with the facts). */
  upcoming(): Promise<Appointment[]>;
  /** The clinic's rules settings (choice expiry and window, ...). */
  settings: Readonly<RulesSettings>;
  /** The language the reply is written in. */
  language: string;
  /** Whether the question offering `options` fits in settings.choiceMaxSegments SMS segments, as the rule's `asked` reply writes it. */
  questionFits(options: readonly ChoiceOption[]): boolean;
}

/** Event parameters an action may take (the rules schema allows them on route-to-staff only). */
export interface ActionParams {
  priority?: StaffPriority;
  reason?: string;
}

export interface ActionResult {
  /** One of the action's declared outcomes; rules may pick a reply template by it. */
  outcome: string;
  detail?: ActionRecord['detail'];
  /** The appointment the action concerned (its state after), for merge fields. */
  appointment?: Appointment | null;
  /** The question asked, or the one answered: its options fill {{choice.options}}, the chosen ones {{choice.chosen}}. */
  choice?: { question: PendingChoice; chosen: readonly ChoiceOption[] };
  /** More audit records of this action (a family's ALL: one per appointment, each with its event). */
  also?: ActionResult[];
}

export interface ActionDefinition {
  name: string;
  /** One line for rules/README.md and `rules check`. */
  doc: string;
  /** Every outcome run() may return. */
  outcomes: readonly string[];
  run(ctx: ActionContext): Promise<ActionResult>;
}
