/**
 * The staff pages' URLs, in one place. They carry the clinic id and opaque conversation ids
 * only: a phone number or a name never goes into a URL (the search is POSTed).
 */
export const STAFF_ROOT = '/staff';
export const ASSETS = `${STAFF_ROOT}/assets`;

/** Route patterns (also what the access trail records: no ids in them). */
export const ROUTES = {
  home: STAFF_ROOT,
  inbox: `${STAFF_ROOT}/clinics/:clinicId`,
  search: `${STAFF_ROOT}/clinics/:clinicId/search`,
  list: `${STAFF_ROOT}/clinics/:clinicId/list`,
  start: `${STAFF_ROOT}/clinics/:clinicId/conversations`,
  conversation: `${STAFF_ROOT}/clinics/:clinicId/conversations/:id`,
  live: `${STAFF_ROOT}/clinics/:clinicId/conversations/:id/live`,
  replies: `${STAFF_ROOT}/clinics/:clinicId/conversations/:id/replies`,
  notes: `${STAFF_ROOT}/clinics/:clinicId/conversations/:id/notes`,
  status: `${STAFF_ROOT}/clinics/:clinicId/conversations/:id/status`,
  assignee: `${STAFF_ROOT}/clinics/:clinicId/conversations/:id/assignee`,
  count: `${STAFF_ROOT}/clinics/:clinicId/count`,
  events: `${STAFF_ROOT}/clinics/:clinicId/events`,
  media: `${STAFF_ROOT}/clinics/:clinicId/media/:mediaId`,
} as const;

export const VIEWS = ['unassigned', 'mine', 'all'] as const;
export type InboxView = (typeof VIEWS)[number];

/** Which list the page shows (the status tab and the view), kept across links. */
export interface ListState {
  view: InboxView;
  status: 'open' | 'pending' | 'snoozed' | 'resolved';
  cursor?: string;
}

const e = encodeURIComponent;

/** The query string of a list state (defaults left out). */
function listQuery(state: Partial<ListState>): string {
  const params = new URLSearchParams();
  if (state.view && state.view !== 'unassigned') {
    params.set('view', state.view);
  }
  if (state.status && state.status !== 'open') {
    params.set('status', state.status);
  }
  if (state.cursor) {
    params.set('cursor', state.cursor);
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

export const paths = {
  inbox: (clinicId: string, state: Partial<ListState> = {}): string => `${STAFF_ROOT}/clinics/${e(clinicId)}${listQuery(state)}`,
  search: (clinicId: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/search`,
  list: (clinicId: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/list`,
  start: (clinicId: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/conversations`,
  conversation: (clinicId: string, id: string, state: Partial<ListState> = {}): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/conversations/${e(id)}${listQuery(state)}`,
  live: (clinicId: string, id: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/conversations/${e(id)}/live`,
  action: (clinicId: string, id: string, what: 'replies' | 'notes' | 'status' | 'assignee'): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/conversations/${e(id)}/${what}`,
  count: (clinicId: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/count`,
  events: (clinicId: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/events`,
  media: (clinicId: string, mediaId: string): string => `${STAFF_ROOT}/clinics/${e(clinicId)}/media/${e(mediaId)}`,
  signOut: `${STAFF_ROOT}/auth/sign-out`,
};
