import { expect } from 'chai';
import { formatAppointmentDate, formatAppointmentTime, localTime } from '../../../src/rules/local-time.js';

describe('clinic-local time', () => {
  it('when asked again within the same minute, then the answer is the same, and a new minute is computed afresh', () => {
    expect(localTime(new Date('2026-06-01T13:59:00Z'), 'America/Chicago')).to.deep.equal({ hour: 8, minute: 59, weekday: 'mon', clock: '08:59', date: '2026-06-01' });
    expect(localTime(new Date('2026-06-01T13:59:59.999Z'), 'America/Chicago').clock).to.equal('08:59');
    expect(localTime(new Date('2026-06-01T14:00:00Z'), 'America/Chicago')).to.deep.equal({ hour: 9, minute: 0, weekday: 'mon', clock: '09:00', date: '2026-06-01' });
  });

  it('when zones share a minute, then each gets its own wall clock (including 45-minute offsets)', () => {
    const at = new Date('2026-06-01T23:30:00Z');
    expect(localTime(at, 'America/New_York').clock).to.equal('19:30');
    expect(localTime(at, 'Asia/Kathmandu')).to.deep.include({ clock: '05:15', weekday: 'tue' });
  });

  it('when the caller changes the answer, then the next caller is not affected', () => {
    const at = new Date('2026-06-02T10:00:00Z');
    localTime(at, 'UTC').hour = 99;
    expect(localTime(at, 'UTC').hour).to.equal(10);
  });

  it('when one appointment time is formatted again, then each zone, language and form keeps its own text', () => {
    const at = new Date('2026-12-01T15:00:00Z');
    expect(formatAppointmentTime(at, 'America/Chicago', 'en')).to.equal('Tue, Dec 1, 9:00 AM CST');
    expect(formatAppointmentTime(new Date(at), 'America/Chicago', 'en')).to.equal('Tue, Dec 1, 9:00 AM CST');
    expect(formatAppointmentTime(at, 'America/New_York', 'en')).to.equal('Tue, Dec 1, 10:00 AM EST');
    expect(formatAppointmentTime(at, 'America/Chicago', 'es')).to.equal('mar, 1 de dic, 9:00 a.m. CST');
    expect(formatAppointmentDate(at, 'America/Chicago', 'en')).to.equal('Tuesday, December 1');
    expect(formatAppointmentTime(new Date('2026-12-01T16:00:00Z'), 'America/Chicago', 'en')).to.equal('Tue, Dec 1, 10:00 AM CST');
  });
});
