import type { Context } from 'koa';
import type { AccessLogStore, AccessRecord } from '../../auth/access-log.js';
import type { StaffIdentity } from './staff-person.js';

/** Who a staff record names: issuer + subject and the email (the API's records name a key id). */
export interface StaffAccessor {
  kind: 'staff';
  issuer: string;
  subject: string;
  email: string | null;
}

/**
 * Writes one access record for a sign-in route (a refusal, "no access"): the route
 * pattern and who, never a name or a number.
 * @param who - the identity as far as it is known (null: nobody yet)
 */
export async function recordSignInAccess(
  accessLog: AccessLogStore,
  ctx: Context,
  entry: { at: Date; route: string; status: number; who: Pick<StaffIdentity, 'issuer' | 'subject'> & { email: string | null } | null },
): Promise<void> {
  const who: StaffAccessor | null = entry.who && { kind: 'staff', issuer: entry.who.issuer, subject: entry.who.subject, email: entry.who.email };
  const record: AccessRecord & { who: StaffAccessor | null } = {
    at: entry.at,
    requestId: (ctx.state as { requestId?: string }).requestId ?? '',
    keyId: null,
    clinicId: null,
    method: ctx.method,
    route: entry.route,
    conversationId: null,
    status: entry.status,
    who,
  };
  await accessLog.append(record);
}
