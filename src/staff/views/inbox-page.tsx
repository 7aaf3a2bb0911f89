import type { VNode } from 'preact';
import type { StaffPerson } from '../person.js';
import { paths } from '../paths.js';
import { Composer, type ComposerModel } from './composer.js';
import { ConversationList, type ListModel } from './conversation-list.js';
import { Layout } from './layout.js';
import { PatientPanel, type PatientPanelModel } from './patient-panel.js';
import { ThreadLive, type ThreadModel } from './thread.js';

export interface InboxPageModel {
  clinicId: string;
  clinicName: string;
  person: StaffPerson;
  list: ListModel;
  open: { thread: ThreadModel; composer: ComposerModel; panel: PatientPanelModel } | null;
  /** A short message after an action (e.g. why a start was refused). */
  notice?: string;
  /** The clinic's patients a name typed under "Start a conversation" points to, to pick one. */
  picker?: PatientPickerModel;
}

export interface PatientPickerModel {
  /** What was typed. */
  name: string;
  matches: Array<{ patientId: string; name: string; phoneEnding: string; nextVisit: string | null; optedOutOn: string | null }>;
  /** More patients match than are shown. */
  more: boolean;
}

/** The patients a name points to, each a button that starts (or opens) their conversation. */
function PatientPicker(props: { clinicId: string; model: PatientPickerModel }): VNode {
  const m = props.model;
  return (
    <section aria-labelledby="main-heading" class="picker">
      <h1 id="main-heading">Start a conversation</h1>
      {m.matches.length === 0 ? (
        <p>No patient of the clinic has a name starting with “{m.name}”. Check the spelling, or type the phone number.</p>
      ) : (
        <>
          <p>
            Patients whose name starts with “{m.name}”{m.more ? ' (the first ones; type more of the name to narrow)' : ''}:
          </p>
          <ul class="picker-list">
            {m.matches.map((p) => (
              <li key={p.patientId}>
                {p.optedOutOn === null ? (
                  <form method="post" action={paths.start(props.clinicId)}>
                    <input type="hidden" name="patientId" value={p.patientId} />
                    <button type="submit">
                      Start with {p.name} (phone ending {p.phoneEnding})
                    </button>
                    {p.nextVisit ? <span class="help"> Next visit {p.nextVisit}</span> : null}
                  </form>
                ) : (
                  <p>
                    {p.name} (phone ending {p.phoneEnding}): opted out of texts (STOP) on {p.optedOutOn}; nothing can be sent until the patient texts START.
                  </p>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** The inbox: the list on the left, the open thread and its composer, the patient beside it. */
export function InboxPage(props: { model: InboxPageModel }): VNode {
  const m = props.model;
  return (
    <Layout title={m.list.title} person={m.person} streamClinicId={m.clinicId} clinicName={m.clinicName}>
      <div class="inbox">
        <div class="side">
          <div role="search">
            <form method="post" action={paths.search(m.clinicId)} class="search-form">
              <label for="search-q">Search by phone or patient name</label>
              <input id="search-q" name="q" type="search" value={m.list.q} maxLength={100} autocomplete="off" />
              <input type="hidden" name="view" value={m.list.state.view} />
              <input type="hidden" name="status" value={m.list.state.status} />
              <button type="submit">Search</button>
            </form>
          </div>
          <ConversationList model={m.list} />
          <details class="start">
            <summary>Start a conversation</summary>
            <form method="post" action={paths.start(m.clinicId)}>
              <label for="start-patient">Patient's name or phone number</label>
              <input id="start-patient" name="patient" type="text" required maxLength={100} autocomplete="off" />
              <button type="submit">Start</button>
            </form>
          </details>
        </div>
        <main id="main" class="main" tabindex={-1} aria-labelledby={m.open ? 'thread-heading' : 'main-heading'}>
          {m.notice ? (
            <p class="notice" role="alert">
              {m.notice}
            </p>
          ) : null}
          {m.open ? (
            <>
              <ThreadLive model={m.open.thread} />
              <Composer model={m.open.composer} />
            </>
          ) : m.picker ? (
            <PatientPicker clinicId={m.clinicId} model={m.picker} />
          ) : (
            <>
              <h1 id="main-heading">Inbox</h1>
              <p>Pick a conversation from the list (or press j).</p>
            </>
          )}
        </main>
        {m.open ? <PatientPanel model={m.open.panel} /> : null}
      </div>
    </Layout>
  );
}

/** A page with a title and a sentence (errors, no clinic). */
export function MessagePage(props: { title: string; text: string; person?: StaffPerson }): VNode {
  return (
    <Layout title={props.title} {...(props.person ? { person: props.person } : {})}>
      <main id="main" class="main">
        <h1>{props.title}</h1>
        <p>{props.text}</p>
        <p>
          <a href="/staff">Back to the inbox</a>
        </p>
      </main>
    </Layout>
  );
}

/** The clinic chooser for a person who may see several. */
export function ClinicChooser(props: { person: StaffPerson; clinics: { id: string; name: string }[] }): VNode {
  return (
    <Layout title="Choose a clinic" person={props.person}>
      <main id="main" class="main">
        <h1>Choose a clinic</h1>
        <ul>
          {props.clinics.map((c) => (
            <li key={c.id}>
              <a href={paths.inbox(c.id)}>{c.name}</a>
            </li>
          ))}
        </ul>
      </main>
    </Layout>
  );
}
