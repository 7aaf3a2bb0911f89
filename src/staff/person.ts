/**
 * The signed-in person the pages act for, as the session middleware (src/staff/auth, the
 * staffauth part of issue 25) leaves it on `ctx.state.person`. Clinics come from the live
 * staff file on every request.
 */
export interface StaffPerson {
  issuer: string;
  subject: string;
  email: string;
  name: string;
  clinics: readonly string[];
}

/** What the pages' middleware leave on ctx.state. */
export interface PageState {
  person?: StaffPerson;
  requestId?: string;
  /** The conversation a request concerned, for its access record. */
  conversationId?: string;
}

/** The person of a request that passed the session middleware. */
export function personOf(state: unknown): StaffPerson {
  const person = (state as PageState).person;
  if (!person) {
    // The session middleware runs first on every page route: this is a wiring mistake.
    throw new Error('staff page without a signed-in person (requirePerson not mounted)');
  }
  return person;
}

/** How the thread and the lists name a person: their name, else their email. */
export function displayNameOf(person: Pick<StaffPerson, 'name' | 'email'>): string {
  return person.name.trim() === '' ? person.email : person.name;
}
