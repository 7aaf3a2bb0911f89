import type { Context } from 'koa';
import type { AccessLogStore, Accessor } from '../../auth/access-log.js';
import { requestFacts } from '../../auth/require-api-key.js';
import type { StaffIdentity } from './staff-person.js';

/** Who a staff record names: issuer + subject and the email (the API's records name a key id). */
export type StaffAccessor = Extract<Accessor, { kind: 'staff' }>;

/**
 * Writes one access record for a sign-in route (a refusal, "no access"): the route
 * pattern and who, never a name or a number.
 * @param who - the identity as far as it is known (null: nobody yet)
 */
export async function recordSignInAccess(
  accessLog: AccessLogStore,
  ctx: Context,
  entry: { at: Date; route: string; status: number; who: (Pick<StaffIdentity, 'issuer' | 'subject'> & { email: string | null }) | null },
): Promise<void> {
  await accessLog.append({
    at: entry.at,
    ...requestFacts(ctx),
    keyId: null,
    who: entry.who && { kind: 'staff', issuer: entry.who.issuer, subject: entry.who.subject, email: entry.who.email },
    clinicId: null,
    method: ctx.method,
    route: entry.route,
    conversationId: null,
    status: entry.status,
  });
}
