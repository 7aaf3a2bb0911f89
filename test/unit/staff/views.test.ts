import { expect } from 'chai';
import { h } from 'preact';
import { renderToString } from 'preact-render-to-string';
import type { ConversationView, ThreadEntryView } from '../../../src/conversations/conversation-service.js';
import { SHORTCUTS } from '../../../src/staff/keyboard.js';
import { counterText } from '../../../src/staff/views/composer.js';
import { ConversationRow, previewText } from '../../../src/staff/views/conversation-list.js';
import { datetimeLocalValue, fromDatetimeLocal, waited } from '../../../src/staff/views/format.js';
import { describeHandling } from '../../../src/staff/views/handling.js';
import { HTMX_CONFIG, KeyboardHelp, Layout, renderPage } from '../../../src/staff/views/layout.js';
import { ThreadEntry } from '../../../src/staff/views/thread.js';

const EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
const AT = new Date('2026-12-07T15:00:00Z');
const TZ = 'America/Chicago';

function conversation(over: Partial<ConversationView> = {}): ConversationView {
  return {
    id: `cv_${'a'.repeat(32)}`,
    phone: '+13125550142',
    status: 'open',
    snoozedUntil: null,
    assignee: null,
    waitingSince: new Date(AT.getTime() - 12 * 60_000),
    lastActivityAt: AT,
    lastMessage: { direction: 'inbound', preview: 'hello', media: 0 },
    patients: [{ id: 'p-1', displayName: 'Ana Diaz' }],
    createdAt: AT,
    priority: 'normal',
    priorityReason: null,
    possibleOptOutAt: null,
    ...over,
  };
}

const inbound = (over: Partial<Extract<ThreadEntryView, { type: 'inbound' }>> = {}): Extract<ThreadEntryView, { type: 'inbound' }> => ({
  type: 'inbound',
  id: 'SM1',
  at: AT,
  text: 'CONFIRM',
  media: [],
  handling: { status: 'processed', rulesFired: ['confirm-appointment'], actions: [{ type: 'confirm-appointment', outcome: 'confirmed', rule: 'confirm-appointment', appointmentId: 'a-1' }], autoReply: 'Thanks!' },
  ...over,
});

const handling = {
  appointments: new Map([['a-1', { id: 'a-1', clinicId: 'downtown', patientId: 'p-2', startsAt: new Date('2026-12-09T14:00:00Z'), status: 'scheduled' as const }]]),
  patients: new Map([['p-2', 'Dylan Park']]),
  timeZone: TZ,
};
const model = { clinicId: 'downtown', timeZone: TZ, handling };

describe('staff page views', function () {
  it('when a thread entry holds markup, then it renders as escaped text (bodies of every kind)', function () {
    for (const entry of [
      inbound({ text: EVIL }),
      { type: 'note', id: 'en_1', at: AT, text: EVIL, author: 'm@x', authorName: EVIL },
      { type: 'outbound', id: 'en_2', at: AT, text: EVIL, author: 'm@x', authorName: null, twilioSid: 'SM2', deliveryStatus: 'delivered', deliveryErrorCode: null },
      { type: 'activity', id: 'en_3', at: AT, text: EVIL, author: 'm@x', authorName: null },
    ] as ThreadEntryView[]) {
      const html = renderToString(h(ThreadEntry, { entry, model }));
      expect(html).to.not.include('<script>');
      expect(html).to.not.include('<img src=x');
      expect(html).to.include('&lt;script>alert(1)&lt;/script>&quot;>&lt;img src=x onerror=alert(2)>');
    }
  });

  it('when a note is rendered, then it says it is internal; a reply shows its delivery status', function () {
    const note = renderToString(h(ThreadEntry, { entry: { type: 'note', id: 'en_1', at: AT, text: 'called', author: 'm@x', authorName: 'Maria' }, model }));
    expect(note).to.include('class="entry note"');
    expect(note).to.include('Internal note by Maria');
    expect(note).to.include('not sent to the patient');
    const reply = renderToString(h(ThreadEntry, { entry: { type: 'outbound', id: 'en_2', at: AT, text: 'ok', author: 'm@x', authorName: null, twilioSid: 'SM2', deliveryStatus: 'undelivered', deliveryErrorCode: '30003', deliveryHistory: [] }, model }));
    expect(reply).to.include('Reply by m@x');
    expect(reply).to.include('Not delivered (error 30003)');
  });

  it('when the rules confirmed an appointment, then the thread says so in words', function () {
    expect(describeHandling(inbound(), handling)).to.deep.equal(["CONFIRM: Dylan's appointment Wed, Dec 9, 8:00 AM confirmed", 'Automatic reply sent: “Thanks!”']);
    expect(describeHandling(inbound({ text: 'hi', handling: { status: 'unknown-number', rulesFired: [], actions: [], autoReply: null } }), handling)).to.deep.equal(['Unknown number: no patient has it']);
  });

  it('when a family question went to staff with its list, or a message came while one waited without answering it, then the thread says so in words', function () {
    const choice = {
      action: 'cancel-appointment',
      askedAt: AT,
      expiresAt: new Date(AT.getTime() + 24 * 3600_000),
      options: [
        { number: 1, patientId: 'p-1', firstName: 'Dylan', appointmentId: 'a-1', startsAt: new Date('2026-12-09T14:00:00Z') },
        { number: 2, patientId: 'p-2', firstName: 'Carla', appointmentId: 'a-2', startsAt: new Date('2026-12-13T14:00:00Z') },
      ],
    };
    const tooMany = describeHandling(
      inbound({ text: 'CANCEL', handling: { status: 'processed', rulesFired: ['which-appointment'], actions: [{ type: 'ask-which-appointment', outcome: 'too-many', rule: 'which-appointment' }], autoReply: null, choice } }),
      handling,
    );
    expect(tooMany).to.include('Family choice: which appointment to cancel? Too many to ask by text; the front desk picks: 1 for Dylan (Wed, Dec 9, 8:00 AM), 2 for Carla (Sun, Dec 13, 8:00 AM).');
    const meanwhile = describeHandling(
      inbound({ text: 'is the lot open?', handling: { status: 'processed', rulesFired: ['to-staff'], actions: [{ type: 'route-to-staff', outcome: 'routed', rule: 'to-staff' }], autoReply: null, choice, possibleOptOut: true } }),
      handling,
    );
    expect(meanwhile).to.deep.equal([
      'Put in front of the front desk',
      'Family choice: came while "which appointment to cancel?" waited for its answer (1 for Dylan (Wed, Dec 9, 8:00 AM), 2 for Carla (Sun, Dec 13, 8:00 AM)); not an answer to it.',
      'Possible opt-out: this message may ask us to stop texting, in its own words (not STOP). Read it before texting the number again.',
    ]);
    const row = renderToString(h(ConversationRow, { row: { conversation: conversation({ possibleOptOutAt: AT }), unread: false, assigneeName: null }, clinicId: 'downtown', state: { view: 'all', status: 'open' }, open: false, now: AT, timeZone: TZ }));
    expect(row).to.include('Possible opt-out');
  });

  it('when a message is a photo alone, then the list shows a photo, not an empty preview; an unread row is marked in words too', function () {
    expect(previewText(conversation({ lastMessage: { direction: 'inbound', preview: '', media: 1 } }))).to.equal('📷 Photo');
    expect(previewText(conversation({ lastMessage: { direction: 'inbound', preview: 'look', media: 2 } }))).to.equal('📷 2 photos or files · look');
    expect(previewText(conversation({ lastMessage: { direction: 'note', preview: 'x', media: 0 } }))).to.equal('Note: x');
    const html = renderToString(h(ConversationRow, { row: { conversation: conversation({ patients: [] }), unread: true, assigneeName: null }, clinicId: 'downtown', state: { view: 'unassigned', status: 'open' }, open: false, now: AT, timeZone: TZ }));
    expect(html).to.include('Unread: </span>Unknown number +13125550142');
    expect(html).to.include('waiting 12 min');
    expect(html).to.include(`href="/staff/clinics/downtown/conversations/cv_${'a'.repeat(32)}"`);
    expect(html).to.not.include('13125550142"');
  });

  it('when the composer counts, then it counts as rules check does', function () {
    expect(counterText('')).to.equal('0 characters · 0 SMS (GSM-7)');
    expect(counterText('a'.repeat(160))).to.equal('160 characters · 1 SMS (GSM-7)');
    expect(counterText('€'.repeat(81))).to.equal('162 characters · 2 SMS (GSM-7)');
    expect(counterText('Quiero cancelar 🙂')).to.equal('18 characters · 1 SMS (UCS-2: UCS-2 because of "🙂")');
  });

  it('when a snooze time is typed in the clinic zone, then it is that instant, across daylight saving too', function () {
    expect(fromDatetimeLocal('2026-12-07T09:00', TZ)?.toISOString()).to.equal('2026-12-07T15:00:00.000Z');
    expect(fromDatetimeLocal('2026-07-07T09:00', TZ)?.toISOString()).to.equal('2026-07-07T14:00:00.000Z');
    expect(datetimeLocalValue(new Date('2026-07-07T14:00:00Z'), TZ)).to.equal('2026-07-07T09:00');
    expect(fromDatetimeLocal('tomorrow', TZ)).to.equal(null);
    expect(waited(new Date(AT.getTime() - 3 * 3600_000), AT)).to.equal('3 h');
  });

  it('when a page is rendered, then it has no inline script or style, htmx runs without eval, and the key table lists every shortcut', function () {
    const html = renderPage(h(Layout, { title: 'T', children: h('p', null, 'x') }));
    expect(html).to.not.match(/<script(?![^>]*\ssrc=")/);
    expect(html).to.not.match(/\sstyle=/);
    expect(html).to.not.match(/\son[a-z]+=/);
    expect(JSON.parse(HTMX_CONFIG)).to.deep.include({ allowEval: false, allowScriptTags: false, includeIndicatorStyles: false });
    const keys = renderToString(h(KeyboardHelp, {}));
    for (const s of SHORTCUTS) {
      expect(keys).to.include(`data-action="${s.action}"`);
    }
    expect(SHORTCUTS.map((s) => s.key)).to.include.members(['j', 'k', 'r', 'n', 'e', '?']);
  });
});
