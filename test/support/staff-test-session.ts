import type { Context, Next } from 'koa';
import type { StaffPerson } from '../../src/staff/person.js';

const HEADER = 'X-Test-Staff-Person';

/**
 * A stand-in for the staff session in route tests of the pages: the person travels in a
 * test header (the real sign-in, sessions and cookies are src/staff/auth's, tested there
 * and in the browser flows). Without the header: 401, as the real middleware answers a
 * request that is not signed in.
 */
export function testSession(): { requirePerson: (ctx: Context, next: Next) => Promise<void>; as(person: Partial<StaffPerson> & { email: string }): Record<string, string> } {
  return {
    async requirePerson(ctx: Context, next: Next): Promise<void> {
      const given = ctx.get(HEADER);
      if (given === '') {
        ctx.status = 401;
        ctx.body = 'sign in first';
        return;
      }
      (ctx.state as { person?: StaffPerson }).person = JSON.parse(Buffer.from(given, 'base64url').toString('utf8')) as StaffPerson;
      await next();
    },
    as(person) {
      const full: StaffPerson = { issuer: 'https://idp.example.test', subject: `sub-${person.email}`, name: '', clinics: ['downtown'], ...person };
      return { [HEADER]: Buffer.from(JSON.stringify(full), 'utf8').toString('base64url') };
    },
  };
}
