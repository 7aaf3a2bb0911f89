import type { Config } from '../config/load-config.js';
import type { Clinic } from '../domain.js';
import { envFinding, type Finding } from '../errors.js';
import type { Snapshot } from './live-config.js';

/**
 * What a clinic lacks to send staff replies through Twilio's Messages API, in words an
 * operator can act on (variable names, never values); null when it can send.
 * @param clinic - the clinic
 * @param accountSid - its account SID (its own, else TWILIO_ACCOUNT_SID), or null
 * @param authToken - its auth token (authTokenEnv, else TWILIO_AUTH_TOKEN), or null
 */
export function missingForSending(clinic: Pick<Clinic, 'id' | 'authTokenEnv'>, accountSid: string | null | undefined, authToken: string | null | undefined): string | null {
  const missing: string[] = [];
  if (!accountSid) {
    missing.push('Twilio account SID (set TWILIO_ACCOUNT_SID, or accountSid in its clinics entry)');
  }
  if (!authToken) {
    missing.push(`Twilio auth token (set ${clinic.authTokenEnv ?? 'TWILIO_AUTH_TOKEN'})`);
  }
  return missing.length === 0 ? null : `clinic ${clinic.id} cannot send staff replies: no ${missing.join(' and no ')}`;
}

/**
 * The start-up check that every clinic can send staff replies: one warning finding a clinic
 * that cannot (reported with the other start-up problems; the start goes on, since inbound
 * texts and automatic replies need no account SID).
 * @param config - TWILIO_ACCOUNT_SID
 * @param snapshot - the clinics and their tokens
 */
export function sendingWarnings(config: Pick<Config, 'twilioAccountSid'>, snapshot: Pick<Snapshot, 'clinics' | 'tokens'>): Finding[] {
  return snapshot.clinics.clinics.flatMap((clinic) => {
    const missing = missingForSending(clinic, clinic.accountSid ?? config.twilioAccountSid, snapshot.tokens.get(clinic.id)?.[0]);
    return missing === null ? [] : [{ ...envFinding(`${missing}; they answer 409 TWILIO_NOT_CONFIGURED`), severity: 'warning' as const }];
  });
}
