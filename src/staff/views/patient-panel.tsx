import type { VNode } from 'preact';
import { appointmentStatus, type Appointment } from '../../domain.js';
import { localTime } from './format.js';

export interface PatientCard {
  id: string;
  name: string;
  language: string | null;
  next: Appointment | null;
}

export interface PatientPanelModel {
  phone: string;
  timeZone: string;
  patients: PatientCard[];
  optedOutAt: Date | null;
}

const RESPONSE_WORDS: Record<string, string> = {
  confirmed: 'confirmed by text',
  'cancel-requested': 'asked to cancel by text',
  'reschedule-requested': 'asked to reschedule by text',
};

const LANGUAGES: Record<string, string> = { en: 'English', es: 'Spanish' };

/** Who is on this phone (a family shares one), their next appointment and answer, consent, language. */
export function PatientPanel(props: { model: PatientPanelModel }): VNode {
  const m = props.model;
  return (
    <aside class="patient-panel" aria-labelledby="patient-heading">
      <h2 id="patient-heading">{m.patients.length > 1 ? 'Patients on this phone' : 'Patient'}</h2>
      <p class="phone">{m.phone}</p>
      <p class={m.optedOutAt ? 'consent opted-out' : 'consent'}>
        {m.optedOutAt ? `Opted out of texts since ${localTime(m.optedOutAt, m.timeZone)}` : 'Texts allowed (not opted out)'}
      </p>
      {m.patients.length === 0 ? <p>No patient of the clinic has this number.</p> : null}
      {m.patients.map((p) => (
        <section key={p.id} class="patient" aria-label={p.name}>
          <h3>{p.name}</h3>
          <p>Language: {p.language ? (LANGUAGES[p.language] ?? p.language) : 'not set'}</p>
          {p.next ? (
            <p>
              Next appointment: {localTime(p.next.startsAt, m.timeZone)}
              {p.next.provider ? ` with ${p.next.provider}` : ''} · {appointmentStatus(p.next)}
              {p.next.patientResponse ? ` (${RESPONSE_WORDS[p.next.patientResponse.kind] ?? p.next.patientResponse.kind} ${localTime(p.next.patientResponse.at, m.timeZone)})` : ''}
            </p>
          ) : (
            <p>No upcoming appointment.</p>
          )}
        </section>
      ))}
    </aside>
  );
}
