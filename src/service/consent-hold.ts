import { CONSENT_ACTIONS } from '../actions/consent.js';
import type { InboundMessage } from '../domain.js';
import { AppError } from '../errors.js';
import { decide } from '../rules/evaluate.js';
import { composeReply } from '../rules/reply.js';
import type { Store } from '../store/store.js';
import type { Snapshot } from './live-config.js';

/** A consent message as the rules read it without the database: which way, and its normal confirmation. */
export interface SpooledConsent {
  clinicId: string;
  kind: 'opt-out' | 'opt-in';
  reply: string | null;
}

/** The store a decision made during an outage sees: no patients, no appointment; any other call is the outage. */
const OFFLINE: Store = new Proxy({} as Store, {
  get(_target, prop) {
    if (prop === 'findNextAppointment') {
      return async (): Promise<null> => null;
    }
    if (prop === 'kind') {
      return 'memory';
    }
    return async (): Promise<never> => {
      throw new AppError('STORE_UNAVAILABLE', 'the database is not answering (outage spool)');
    };
  },
});

/**
 * Whether a message that went to the outage spool opts out or in, by the clinic's own rules
 * (its consent rules run first and need no database), and the confirmation it gets: the
 * spool makes the STOP or START certain (it is applied on replay), so the patient gets the
 * normal confirmation, not the system-error text. The sender is taken as not opted out and
 * without patients: the confirmation templates name the clinic, not the patient. Null for
 * any other message, or when the rules cannot tell without the database.
 * @param snapshot - the clinics and rules live now
 * @param message - the spooled message
 * @param receivedAt - when it arrived
 */
export async function spooledConsent(snapshot: Pick<Snapshot, 'clinics' | 'rules'>, message: InboundMessage, receivedAt: Date): Promise<SpooledConsent | null> {
  const clinic = snapshot.clinics.byNumber.get(message.to);
  const rules = clinic ? snapshot.rules.get(clinic.id) : undefined;
  if (!clinic || !rules) {
    return null;
  }
  const input = { clinic, message, patients: [], optedOut: false, now: receivedAt, receivedAt, store: OFFLINE };
  try {
    const decision = await decide(rules, input);
    const consent = decision.events.find((e) => CONSENT_ACTIONS.has(e.type));
    if (!consent) {
      return null;
    }
    const kind = consent.type === 'opt-in' ? 'opt-in' : 'opt-out';
    const done = decision.events.filter((e) => e.type === consent.type).map((event) => ({ event, outcome: kind === 'opt-in' ? 'opted-in' : 'opted-out' }));
    return { clinicId: clinic.id, kind, reply: (await composeReply(rules, done, input, decision.context))?.text ?? null };
  } catch {
    return null;
  }
}

/**
 * The numbers whose opt-out waits in this instance's outage spool: until it is replayed
 * (applied), nothing else is sent to them (no automatic reply, no staff reply). Keyed by
 * clinic and sender; each held opt-out by its MessageSid, released when replayed. A START
 * spooled after it lifts the hold (the replay applies both, in the order received).
 */
export class ConsentHold {
  private readonly held = new Map<string, Set<string>>();

  /** Records a spooled consent message. */
  note(consent: Pick<SpooledConsent, 'clinicId' | 'kind'>, message: Pick<InboundMessage, 'from' | 'messageSid'>): void {
    const key = keyOf(consent.clinicId, message.from);
    if (consent.kind === 'opt-in') {
      this.held.delete(key);
      return;
    }
    const sids = this.held.get(key) ?? new Set<string>();
    sids.add(message.messageSid);
    this.held.set(key, sids);
  }

  /** A spooled message was replayed: its opt-out, if held, is applied now. */
  replayed(message: Pick<InboundMessage, 'messageSid'>): void {
    for (const [key, sids] of this.held) {
      if (sids.delete(message.messageSid) && sids.size === 0) {
        this.held.delete(key);
      }
    }
  }

  /** True while an opt-out from `phone` to the clinic waits in the spool. */
  has(clinicId: string, phone: string): boolean {
    return this.held.has(keyOf(clinicId, phone));
  }

  /** How many numbers are held. */
  size(): number {
    return this.held.size;
  }
}

const keyOf = (clinicId: string, phone: string): string => `${clinicId}\u0000${phone}`;

/**
 * The webhook's outage spool with the consent rules on top: keeps the message, then answers
 * a spooled STOP or START with its normal confirmation (and holds the number after a STOP),
 * and a message from a held number with no text; anything else gets the system-error text.
 * @param deps - the spool, the replayer's wake-up, the live rules, the hold
 */
export function spoolWithConsent(deps: {
  append(message: InboundMessage, receivedAt: Date): Promise<unknown>;
  notify(): void;
  snapshot(): Pick<Snapshot, 'clinics' | 'rules'>;
  hold: ConsentHold;
}): { append(message: InboundMessage, receivedAt: Date): Promise<{ reply: string | null } | undefined> } {
  return {
    async append(message, receivedAt) {
      await deps.append(message, receivedAt);
      deps.notify();
      const snapshot = deps.snapshot();
      const consent = await spooledConsent(snapshot, message, receivedAt);
      if (consent) {
        deps.hold.note(consent, message);
        return { reply: consent.reply };
      }
      const clinic = snapshot.clinics.byNumber.get(message.to);
      return clinic && deps.hold.has(clinic.id, message.from) ? { reply: null } : undefined;
    },
  };
}

/**
 * Holds the numbers whose opt-out an earlier run left in the spool (start-up).
 * @param hold - the hold
 * @param entries - the spool's entries, in the order received
 * @param snapshot - the live rules
 */
export async function holdSpooledOptOuts(hold: ConsentHold, entries: readonly { message: InboundMessage; receivedAt: Date }[], snapshot: Pick<Snapshot, 'clinics' | 'rules'>): Promise<void> {
  for (const entry of entries) {
    const consent = await spooledConsent(snapshot, entry.message, entry.receivedAt);
    if (consent) {
      hold.note(consent, entry.message);
    }
  }
}
