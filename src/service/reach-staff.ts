import type { StaffRouting, ToStaff } from '../domain.js';
import type { EvaluationInput } from '../rules/evaluate.js';
import { ALWAYS_PROCESSED_ACTIONS, type Outcome } from './apply-decision.js';

/** The staff port for one message, which remembers whether the message reached staff. */
export interface TrackedRouting extends StaffRouting {
  readonly reached: boolean;
}

/** Wraps the staff port for one message, so the pipeline routes it at most once on its own account. */
export function trackRouting(staff: StaffRouting): TrackedRouting {
  let reached = false;
  return {
    get reached() {
      return reached;
    },
    async routed(item: ToStaff): Promise<void> {
      await staff.routed(item);
      reached = true;
    },
  };
}

/**
 * Whether a message from a number with no patient on file goes to staff on top of the
 * automatic reply: a new patient or a parent on a new phone would otherwise reach nobody.
 * Not when a rule already routed it, nor when STOP, START or HELP answered it in full
 * (those keywords never clutter the open list).
 */
export function unknownNumberReachesStaff(input: Pick<EvaluationInput, 'patients'>, outcome: Outcome, staff: TrackedRouting): boolean {
  return input.patients.length === 0 && !staff.reached && !outcome.actions.some((a) => ALWAYS_PROCESSED_ACTIONS.has(a.type));
}

/** The message of `input` as it goes to staff. */
export function toStaff(input: Pick<EvaluationInput, 'clinic' | 'message' | 'patients' | 'now'>, reason: ToStaff['reason']): ToStaff {
  return { clinicId: input.clinic.id, message: input.message, patients: input.patients, at: input.now, reason };
}
