import type { VNode } from 'preact';
import { countSegments, describeNonGsm } from '../../sms-segments.js';
import { paths } from '../paths.js';
import { localTime } from './format.js';

export interface QuickReply {
  shortcode: string;
  /** With the conversation's placeholders filled in. */
  text: string;
}

export interface ComposerModel {
  clinicId: string;
  conversationId: string;
  timeZone: string;
  /** Set when the number opted out: no composer, only the reason. */
  optedOutAt: Date | null;
  quickReplies: QuickReply[];
  /** One random key a rendered form: a double submit sends once (the API's Idempotency-Key). */
  idempotencyKey: string;
  /** What the reply box holds (after a refused send, what was typed). */
  draft: string;
  /** A short reason the last send was refused. */
  error?: string;
}

/** "42 characters · 1 SMS (GSM-7)": counted as `rules check` counts (src/admin/check/sms-segments.ts). */
export function counterText(text: string): string {
  const count = countSegments(text);
  const why = describeNonGsm(count);
  const sms = count.segments === 1 ? '1 SMS' : `${count.segments} SMS`;
  return `${count.units} characters · ${sms} (${count.encoding}${why === '' ? '' : `: ${why}`})`;
}

/** The counter under the reply box; htmx asks the server again as staff type (the partial for /count). */
export function SegmentCounter(props: { clinicId: string; text: string }): VNode {
  return (
    <p
      id="reply-counter"
      class="counter"
      hx-post={paths.count(props.clinicId)}
      hx-trigger="input from:#reply-text delay:150ms"
      hx-include="#reply-text"
      hx-swap="outerHTML"
    >
      {counterText(props.text)}
    </p>
  );
}

/** The reply box and the note box; for an opted-out number only the reason. */
export function Composer(props: { model: ComposerModel }): VNode {
  const m = props.model;
  const notes = (
    <details id="note-panel" class="note-panel" open={m.optedOutAt !== null}>
      <summary>Internal note</summary>
      <form method="post" action={paths.action(m.clinicId, m.conversationId, 'notes')}>
        <label for="note-text">Internal note (never sent to the patient)</label>
        <textarea id="note-text" name="text" rows={3} maxLength={4000} required></textarea>
        <button type="submit">Add note</button>
      </form>
    </details>
  );
  if (m.optedOutAt !== null) {
    return (
      <section class="composer" aria-label="Answer">
        <p class="opted-out" role="note">
          This number opted out of texts (STOP) on {localTime(m.optedOutAt, m.timeZone)}. Nothing can be sent until the patient texts START.
        </p>
        {notes}
      </section>
    );
  }
  return (
    <section class="composer" aria-label="Answer">
      <form method="post" action={paths.action(m.clinicId, m.conversationId, 'replies')} id="reply-form">
        <input type="hidden" name="idempotencyKey" value={m.idempotencyKey} />
        <label for="reply-text">Reply to the patient by SMS</label>
        {m.error ? (
          <p class="form-error" id="reply-error" role="alert">
            {m.error}
          </p>
        ) : null}
        <textarea
          id="reply-text"
          name="text"
          rows={4}
          maxLength={1600}
          required
          aria-describedby={m.error ? 'reply-counter reply-help reply-error' : 'reply-counter reply-help'}
          data-quick-replies="quick-replies"
          value={m.draft}
        ></textarea>
        <SegmentCounter clinicId={m.clinicId} text={m.draft} />
        <p id="reply-help" class="help">
          Type / and a quick reply's shortcode, then a space, to insert it.
        </p>
        <button type="submit">Send reply</button>
      </form>
      {m.quickReplies.length > 0 ? (
        <details class="quick-replies">
          <summary>Quick replies</summary>
          <dl id="quick-replies">
            {m.quickReplies.map((q) => (
              <div key={q.shortcode}>
                <dt>
                  <code>/{q.shortcode}</code>
                </dt>
                <dd data-shortcode={q.shortcode}>{q.text}</dd>
              </div>
            ))}
          </dl>
        </details>
      ) : null}
      {notes}
    </section>
  );
}
