/** Who signed in: the identity provider's issuer and subject, and the verified email. */
export interface StaffIdentity {
  issuer: string;
  subject: string;
  /** Verified, lower-cased. */
  email: string;
  /** The display name (the provider's `name` claim, else the staff file's, else the email). */
  name: string;
}

/**
 * The person on a staff page's request (`ctx.state.person`): the identity, and the clinics
 * the staff file lets them see now (read from the live file on every request, so removing
 * someone from it takes effect at once).
 */
export interface StaffPerson extends StaffIdentity {
  clinics: readonly string[];
}

/** The issuer recorded for the development demo sign-in (never an identity provider's). */
export const DEMO_ISSUER = 'urn:clinic-sms:demo-sign-in';
