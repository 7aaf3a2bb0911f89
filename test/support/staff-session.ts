import type { RequestListener } from 'node:http';
import request from 'supertest';

/** The session cookie's names (development, production). */
const SESSION_COOKIE = /^(?:__Host-)?clinic-sms-staff=/;

/**
 * Signs in through the development demo sign-in (a real session made by the real routes,
 * sent as a browser would: a same-origin form post) and returns the Cookie header value
 * that carries the session.
 * @param callback - the app's callback (`app.callback()`)
 * @param email - a person the staff file lists by email
 */
export async function signInAs(callback: RequestListener, email: string): Promise<string> {
  const res = await request(callback).post('/staff/auth/demo-sign-in').set('Sec-Fetch-Site', 'same-origin').type('form').send({ email, next: '/staff' });
  if (res.status !== 303) {
    throw new Error(`demo sign-in as ${email} answered ${res.status}: ${res.text.slice(0, 200)}`);
  }
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => SESSION_COOKIE.test(c));
  if (!cookie) {
    throw new Error('demo sign-in set no session cookie');
  }
  return cookie.split(';')[0]!;
}
