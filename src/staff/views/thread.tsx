import type { VNode } from 'preact';
import type { ThreadMedia } from '../../conversations/media-links.js';
import type { ConversationView, ThreadEntryView } from '../../conversations/conversation-service.js';
import { paths } from '../paths.js';
import { conversationTitle } from './conversation-list.js';
import { datetimeLocalValue, localTime } from './format.js';
import { describeHandling, type HandlingContext } from './handling.js';

/** How a delivery status reads on a reply. */
const DELIVERY_WORDS: Record<string, string> = {
  'sending-requested': 'Sending…',
  queued: 'Queued at Twilio',
  accepted: 'Queued at Twilio',
  scheduled: 'Scheduled',
  sending: 'Sending',
  sent: 'Sent',
  delivered: 'Delivered',
  undelivered: 'Not delivered',
  failed: 'Failed',
  read: 'Read',
  canceled: 'Canceled',
};

export interface StaffMember {
  email: string;
  name: string;
}

export interface ThreadModel {
  clinicId: string;
  timeZone: string;
  conversation: ConversationView;
  entries: ThreadEntryView[];
  handling: HandlingContext;
  /** The assignee's name, when known. */
  assigneeName: string | null;
  /** Who it can be assigned to (the clinic's staff by email). */
  staff: StaffMember[];
  /** The signed-in person's id (email): "assign to me". */
  me: string;
  now: Date;
}

/** A photo inline, a document as a link, or why it is not there. */
function MediaItem(props: { item: ThreadMedia; clinicId: string }): VNode {
  const { item } = props;
  if (item.state !== 'stored') {
    const why = item.state === 'pending' ? 'being fetched from Twilio' : `not available (${item.reason ?? item.state})`;
    return <p class="media-missing">Attachment ({item.contentType}) {why}</p>;
  }
  const href = paths.media(props.clinicId, item.id);
  return item.contentType.startsWith('image/') ? (
    <a href={href} class="media-photo">
      <img src={href} alt="Photo the patient sent" loading="lazy" />
    </a>
  ) : (
    <p>
      <a href={href}>Download the file the patient sent ({item.contentType})</a>
    </p>
  );
}

/** One thread entry (the partial the live refresh renders again). Bodies are text, escaped. */
export function ThreadEntry(props: { entry: ThreadEntryView; model: Pick<ThreadModel, 'clinicId' | 'timeZone' | 'handling'> }): VNode {
  const { entry: e, model } = props;
  const when = <time dateTime={e.at.toISOString()}>{localTime(e.at, model.timeZone)}</time>;
  if (e.type === 'inbound') {
    const steps = describeHandling(e, model.handling);
    return (
      <li id={`entry-${e.id}`} class="entry inbound">
        <p class="entry-head">
          <span class="who">Patient</span> · {when}
        </p>
        {e.text === '' ? null : <p class="body">{e.text}</p>}
        {e.media.map((item) => (
          <MediaItem key={item.id} item={item} clinicId={model.clinicId} />
        ))}
        {steps.length > 0 ? (
          <ul class="handling" aria-label="What the rules did">
            {steps.map((line, i) => (
              <li key={i}>{line}</li>
            ))}
          </ul>
        ) : null}
      </li>
    );
  }
  const by = e.authorName ?? e.author;
  if (e.type === 'note') {
    return (
      <li id={`entry-${e.id}`} class="entry note">
        <p class="entry-head">
          <span class="who">Internal note by {by}</span> · {when} · <span class="not-sent">not sent to the patient</span>
        </p>
        <p class="body">{e.text}</p>
      </li>
    );
  }
  if (e.type === 'activity') {
    return (
      <li id={`entry-${e.id}`} class="entry activity">
        <p>
          {e.text} by {by} · {when}
        </p>
      </li>
    );
  }
  const status = DELIVERY_WORDS[e.deliveryStatus] ?? e.deliveryStatus;
  return (
    <li id={`entry-${e.id}`} class="entry outbound">
      <p class="entry-head">
        <span class="who">Reply by {by}</span> · {when}
      </p>
      <p class="body">{e.text}</p>
      <p class={`delivery delivery-${e.deliveryStatus}`}>
        {status}
        {e.deliveryErrorCode ? ` (error ${e.deliveryErrorCode})` : ''}
      </p>
    </li>
  );
}

/** The buttons that change the conversation: plain forms, so each works by keyboard and without script. */
function Actions(props: { model: ThreadModel }): VNode {
  const { model: m } = props;
  const c = m.conversation;
  const statusUrl = paths.action(m.clinicId, c.id, 'status');
  const assigneeUrl = paths.action(m.clinicId, c.id, 'assignee');
  const later = new Date(m.now.getTime() + 24 * 3600_000);
  return (
    <div class="actions" role="group" aria-label="Conversation actions">
      {c.status === 'resolved' || c.status === 'snoozed' || c.status === 'pending' ? (
        <form method="post" action={statusUrl}>
          <input type="hidden" name="status" value="open" />
          <button type="submit">Reopen</button>
        </form>
      ) : null}
      {c.status !== 'resolved' ? (
        <form method="post" action={statusUrl} id="resolve-form">
          <input type="hidden" name="status" value="resolved" />
          <button type="submit">Resolve</button>
        </form>
      ) : null}
      {c.status === 'open' ? (
        <form method="post" action={statusUrl}>
          <input type="hidden" name="status" value="pending" />
          <button type="submit">Mark pending</button>
        </form>
      ) : null}
      <form method="post" action={statusUrl} class="snooze">
        <input type="hidden" name="status" value="snoozed" />
        <label for="snooze-until">Snooze until</label>
        <input type="datetime-local" id="snooze-until" name="snoozedUntil" required value={datetimeLocalValue(later, m.timeZone)} />
        <button type="submit">Snooze</button>
      </form>
      {c.assignee !== m.me ? (
        <form method="post" action={assigneeUrl}>
          <input type="hidden" name="assignee" value={m.me} />
          <button type="submit">Assign to me</button>
        </form>
      ) : null}
      <form method="post" action={assigneeUrl} class="assign">
        <label for="assign-to">Assign to</label>
        <select id="assign-to" name="assignee">
          <option value="">Nobody (unassigned)</option>
          {m.staff.map((s) => (
            <option key={s.email} value={s.email} selected={s.email === c.assignee}>
              {s.name === '' ? s.email : `${s.name} (${s.email})`}
            </option>
          ))}
        </select>
        <button type="submit">Assign</button>
      </form>
    </div>
  );
}

const STATUS_WORDS: Record<string, string> = { open: 'Open', pending: 'Pending (waiting on the patient)', snoozed: 'Snoozed', resolved: 'Resolved' };

/**
 * The thread's live part: who, status, assignee, actions, and the entries in time order.
 * Re-rendered whole when the stream names this conversation.
 */
export function ThreadLive(props: { model: ThreadModel }): VNode {
  const { model: m } = props;
  const c = m.conversation;
  return (
    <div id="thread-live" hx-get={paths.live(m.clinicId, c.id)} hx-trigger={`sse:${c.id}`} hx-swap="outerHTML">
      <h1 id="thread-heading">{conversationTitle(c)}</h1>
      <p class="thread-status">
        {STATUS_WORDS[c.status] ?? c.status}
        {c.status === 'snoozed' && c.snoozedUntil ? ` until ${localTime(c.snoozedUntil, m.timeZone)}` : ''} ·{' '}
        {c.assignee === null ? 'Unassigned' : `Assigned to ${m.assigneeName ?? c.assignee}`}
      </p>
      {c.possibleOptOutAt ? (
        <p class="possible-opt-out" role="note">
          Possible opt-out: the message of {localTime(c.possibleOptOutAt, m.timeZone)} may ask us to stop texting, in its own words. Read it before texting this number again.
        </p>
      ) : null}
      <Actions model={m} />
      <ol class="thread" id="thread-entries" aria-label="Messages, oldest first">
        {m.entries.map((entry) => (
          <ThreadEntry key={entry.id} entry={entry} model={m} />
        ))}
      </ol>
    </div>
  );
}
