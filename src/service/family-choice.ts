import type { Decision, EvaluationInput } from '../rules/evaluate.js';
import type { Outcome } from './apply-decision.js';

/**
 * What becomes of a pending "which appointment?" question once the message's actions ran:
 * an answer that chose, any keyword (STOP wins; a new appointment keyword asks anew or acts
 * on the soonest), and an unclear answer that went to staff end it; free text leaves it for
 * staff to see. A question the message asked or asked again was saved by its action. One
 * command, only when there is a question to end.
 */
export async function settleChoice(input: EvaluationInput, decision: Decision, outcome: Outcome): Promise<void> {
  const { pending, answer } = decision.context.choice;
  if (!pending) {
    return;
  }
  const askedAgain = outcome.actions.some((a) => a.type === 'ask-which-appointment' && a.outcome === 'asked');
  if (askedAgain) {
    return;
  }
  const ends = answer === 'chosen' || decision.context.command !== '' || (answer === 'unclear' && outcome.actions.some((a) => a.type === 'route-to-staff'));
  if (ends) {
    await input.store.clearChoice(input.clinic.id, input.message.from, pending.messageSid);
  }
}
