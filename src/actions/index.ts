import { askWhichAppointmentAction } from './ask-which-appointment.js';
import { cancelAppointmentAction, confirmAppointmentAction, rescheduleAppointmentAction } from './appointment-actions.js';
import { optInAction, optOutAction } from './consent.js';
import { helpAction, noReplyAction, replyOnlyAction } from './reply-only.js';
import { routeToStaffAction } from './route-to-staff.js';
import type { ActionDefinition } from './types.js';

export type { ActionContext, ActionDefinition, ActionResult } from './types.js';

/** The fixed registry of actions a rule's `event.type` may name. */
export const ACTIONS: ReadonlyMap<string, ActionDefinition> = new Map(
  [
    optOutAction,
    optInAction,
    helpAction,
    confirmAppointmentAction,
    cancelAppointmentAction,
    rescheduleAppointmentAction,
    askWhichAppointmentAction,
    routeToStaffAction,
    replyOnlyAction,
    noReplyAction,
  ].map((a) => [a.name, a]),
);

/** The action named `type`, or undefined. */
export function getAction(type: string): ActionDefinition | undefined {
  return ACTIONS.get(type);
}
