import type { ActionDefinition, ActionResult } from './types.js';

/**
 * The outcome of a consent change older than the stored one (a message replayed from the
 * outage spool after a newer STOP or START was handled): recorded, state left as it is.
 */
export const STALE_CONSENT = 'stale';

/**
 * Builds the opt-out or opt-in action: the sender's number for this clinic (per clinic
 * and phone, not per patient) is marked opted out or back in, as of the message's receive
 * time, so the patient's last word stands whatever order messages were processed in.
 */
function consentAction(optedOut: boolean): ActionDefinition {
  const done = optedOut ? 'opted-out' : 'opted-in';
  const already = optedOut ? 'already-opted-out' : 'already-opted-in';
  return {
    name: optedOut ? 'opt-out' : 'opt-in',
    doc: optedOut ? "opts the sender's number out of this clinic's texts (per clinic and phone number)" : "opts the sender's number back in to this clinic's texts",
    outcomes: [done, already, STALE_CONSENT],
    async run(ctx): Promise<ActionResult> {
      // A plain-language opt-out ("please stop texting me") rather than a keyword: the consent event says so.
      const via = optedOut && ctx.command !== 'STOP' && ctx.revocation.value === 'clear' ? 'phrase' : 'keyword';
      if (!ctx.dryRun) {
        const write = await ctx.store.setOptOut({
          clinicId: ctx.clinic.id,
          phone: ctx.message.from,
          optedOut,
          changedAt: ctx.receivedAt,
          messageSid: ctx.message.messageSid,
          keyword: ctx.keyword,
        });
        if (!write.applied) {
          // The audit record says what the newer state is and since when (no phone, no body).
          return { outcome: STALE_CONSENT, detail: { optedOut: write.current.optedOut, newerAt: write.current.changedAt.toISOString(), via } };
        }
      }
      return { outcome: ctx.optedOut === optedOut ? already : done, detail: { via } };
    },
  };
}

export const optOutAction = consentAction(true);
export const optInAction = consentAction(false);

/**
 * The actions that change consent. Rules naming one run in a pass of their own that no other
 * rule's `halt` can stop, and their reply comes before any other (rules/evaluate.ts,
 * rules/reply.ts): a STOP is never swallowed. An action added for plain-language opt-outs
 * belongs here too.
 */
export const CONSENT_ACTIONS: ReadonlySet<string> = new Set([optOutAction.name, optInAction.name]);
