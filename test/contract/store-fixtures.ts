import { randomUUID } from 'node:crypto';
import type { Appointment, MessageRecord, OptOutRecord, Patient } from '../../src/domain.js';

/** A clinic id no other test uses, so tests share one store without seeing each other's data. */
export const newClinicId = (): string => `c-${randomUUID().slice(0, 8)}`;

export const newSid = (): string => `SM${randomUUID().replace(/-/g, '')}`;

let phoneSeq = 0;
/** A distinct, possible E.164 number. */
export const newPhone = (): string => `+1312555${String(1000 + (++phoneSeq % 9000)).padStart(4, '0')}`;

export function aMessage(overrides: Partial<MessageRecord> & { clinicId: string }): MessageRecord {
  const messageSid = overrides.messageSid ?? newSid();
  return {
    messageSid,
    receivedAt: new Date('2026-05-01T10:00:00.123Z'),
    status: 'received',
    patientIds: [],
    rulesFired: [],
    actions: [],
    reply: null,
    via: 'webhook',
    message: {
      messageSid,
      accountSid: 'AC00000000000000000000000000000000',
      from: '+13125550100',
      to: '+13125550199',
      body: 'CONFIRM',
      numMedia: 0,
      media: [],
      extra: { FromCity: 'CHICAGO', 'Odd.Param': 'x', $dollar: 'y' },
    },
    ...overrides,
  };
}

export function aPatient(overrides: Partial<Patient> & { clinicId: string }): Patient {
  return { id: `p-${randomUUID().slice(0, 8)}`, firstName: 'Ana', lastName: 'Diaz', phone: '+13125550100', ...overrides };
}

export function anAppointment(overrides: Partial<Appointment> & { clinicId: string; patientId: string }): Appointment {
  return { id: `a-${randomUUID().slice(0, 8)}`, startsAt: new Date('2026-12-01T15:00:00Z'), status: 'scheduled', ...overrides };
}

export function anOptOut(overrides: Partial<OptOutRecord> & { clinicId: string; phone: string }): OptOutRecord {
  return { optedOut: true, changedAt: new Date('2026-05-01T10:00:00.456Z'), messageSid: newSid(), keyword: 'STOP', ...overrides };
}
