import { askWhichAppointmentAction } from './ask-which-appointment.js';
import { cancelAppointmentAction, confirmAppointmentAction, rescheduleAppointmentAction } from './appointment-actions.js';
import { optInAction, optOutAction } from './consent.js';
import { helpAction, noReplyAction, replyOnlyAction, safetyAction } from './reply-only.js';
import { routeToStaffAction } from './route-to-staff.js';
import type { ActionDefinition } from './types.js';

export type { ActionContext, ActionDefinition, ActionParams, ActionResult } from './types.js';

/** The fixed registry of actions a rule's `event.type` may name. */
export const ACTIONS: ReadonlyMap<string, ActionDefinition> = new Map(
  [
    optOutAction,
    optInAction,
    helpAction,
    safetyAction,
    confirmAppointmentAction,
    cancelAppointmentAction,
    rescheduleAppointmentAction,
    askWhichAppointmentAction,
    routeToStaffAction,
    replyOnlyAction,
    noReplyAction,
  ].map((a) => [a.name, a]),
);

/**
 * The actions whose reply reaches an opted-out number: the opt-in confirmation, HELP, and a
 * safety answer (each answers a message the patient just sent).
 */
export const REPLIES_TO_OPTED_OUT: ReadonlySet<string> = new Set(['opt-in', 'help', 'safety']);

/** The action named `type`, or undefined. */
export function getAction(type: string): ActionDefinition | undefined {
  return ACTIONS.get(type);
}
