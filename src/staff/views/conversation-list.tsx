import type { VNode } from 'preact';
import type { ConversationStatus } from '../../conversations/conversation.js';
import type { ConversationView } from '../../conversations/conversation-service.js';
import { paths, VIEWS, type InboxView, type ListState } from '../paths.js';
import { shortTime, waited } from './format.js';

/** The events that refresh the list (the live stream's names, Chatwoot's). */
export const LIST_TRIGGERS = ['message.created', 'message.updated', 'conversation.status_changed', 'assignee.changed', 'conversation.updated'];

export const STATUS_TABS: readonly { status: ConversationStatus; label: string }[] = [
  { status: 'open', label: 'Open' },
  { status: 'pending', label: 'Pending' },
  { status: 'snoozed', label: 'Snoozed' },
  { status: 'resolved', label: 'Resolved' },
];

export const VIEW_LABELS: Record<InboxView, string> = { unassigned: 'Unassigned', mine: 'Mine', all: 'All' };

export interface RowModel {
  conversation: ConversationView;
  unread: boolean;
  /** How the assignee is named (their name from the staff file, else the id). */
  assigneeName: string | null;
}

export interface ListModel {
  clinicId: string;
  timeZone: string;
  state: ListState;
  /** The search text (never in a URL: it is POSTed). */
  q: string;
  counts: Record<ConversationStatus, number>;
  rows: RowModel[];
  nextCursor: string | null;
  /** The conversation open beside the list. */
  openId: string | null;
  now: Date;
  title: string;
}

/** Who the conversation is with: its patients' names, else "Unknown number" and the number. */
export function conversationTitle(c: Pick<ConversationView, 'patients' | 'phone'>): string {
  return c.patients.length > 0 ? c.patients.map((p) => p.displayName).join(', ') : `Unknown number ${c.phone}`;
}

/** The list's preview of the last thing said: a photo alone shows as a photo. */
export function previewText(c: Pick<ConversationView, 'lastMessage'>): string {
  const { preview, media, direction } = c.lastMessage;
  const photos = media > 0 ? (media === 1 ? '📷 Photo' : `📷 ${media} photos or files`) : '';
  const text = preview === '' ? photos || '(no text)' : photos ? `${photos} · ${preview}` : preview;
  return direction === 'note' ? `Note: ${text}` : direction === 'outbound' ? `You: ${text}` : text;
}

/** One row of the list (the partial a live refresh renders again). */
export function ConversationRow(props: { row: RowModel; clinicId: string; state: ListState; open: boolean; now: Date; timeZone: string }): VNode {
  const { conversation: c, unread } = props.row;
  const waiting = c.waitingSince ? `waiting ${waited(c.waitingSince, props.now)}` : null;
  return (
    <li id={`row-${c.id}`} class={`row${unread ? ' unread' : ''}${props.open ? ' current' : ''}`} data-conversation-id={c.id}>
      <a href={paths.conversation(props.clinicId, c.id, { view: props.state.view, status: props.state.status })} aria-current={props.open ? 'page' : undefined} class="row-link">
        <span class="row-title">
          {c.priority === 'urgent' ? <span class="urgent">Urgent{c.priorityReason ? ` (${c.priorityReason})` : ''}: </span> : null}
          {unread ? <span class="unread-mark" aria-hidden="true">●</span> : null}
          {unread ? <span class="visually-hidden">Unread: </span> : null}
          {conversationTitle(c)}
        </span>
        <span class="row-preview">{previewText(c)}</span>
        <span class="row-meta">
          {waiting ? <span class="waiting">{waiting}</span> : <span>{shortTime(c.lastActivityAt, props.now, props.timeZone)}</span>}
          {props.row.assigneeName ? <span class="assignee"> · {props.row.assigneeName}</span> : null}
          {c.possibleOptOutAt ? <span class="possible-opt-out"> · Possible opt-out</span> : null}
        </span>
      </a>
    </li>
  );
}

/**
 * The list region: views, status tabs with counts, the rows. Re-rendered whole by the live
 * stream's events (POST, so the search text stays out of URLs).
 */
export function ConversationList(props: { model: ListModel }): VNode {
  const m = props.model;
  return (
    <section
      id="list-region"
      class="list-region"
      aria-labelledby="list-heading"
      hx-post={paths.list(m.clinicId)}
      hx-trigger={LIST_TRIGGERS.map((t) => `sse:${t}`).join(', ')}
      hx-include="#list-state"
      hx-swap="outerHTML"
      data-title={m.title}
    >
      <form id="list-state" hidden>
        <input type="hidden" name="view" value={m.state.view} />
        <input type="hidden" name="status" value={m.state.status} />
        <input type="hidden" name="q" value={m.q} />
        <input type="hidden" name="open" value={m.openId ?? ''} />
      </form>
      <nav aria-label="Views" class="views">
        <ul>
          {VIEWS.map((view) => (
            <li key={view}>
              <a href={paths.inbox(m.clinicId, { view, status: m.state.status })} aria-current={view === m.state.view ? 'page' : undefined}>
                {VIEW_LABELS[view]}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <nav aria-label="Status" class="tabs">
        <ul>
          {STATUS_TABS.map((tab) => (
            <li key={tab.status}>
              <a href={paths.inbox(m.clinicId, { view: m.state.view, status: tab.status })} aria-current={tab.status === m.state.status ? 'page' : undefined}>
                {tab.label} <span class="count">{m.counts[tab.status]}</span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <h2 id="list-heading">
        {VIEW_LABELS[m.state.view]}, {m.state.status}
        {m.q === '' ? '' : `, matching “${m.q}”`} ({m.counts[m.state.status]})
      </h2>
      {m.rows.length === 0 ? (
        <p class="empty">Nothing here.</p>
      ) : (
        <ul class="rows" aria-label="Conversations">
          {m.rows.map((row) => (
            <ConversationRow key={row.conversation.id} row={row} clinicId={m.clinicId} state={m.state} open={row.conversation.id === m.openId} now={m.now} timeZone={m.timeZone} />
          ))}
        </ul>
      )}
      {m.nextCursor ? (
        <p>
          <a href={paths.inbox(m.clinicId, { ...m.state, cursor: m.nextCursor })}>More conversations</a>
        </p>
      ) : null}
    </section>
  );
}
