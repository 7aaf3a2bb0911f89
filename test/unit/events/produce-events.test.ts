import { expect } from 'chai';
import { produceEvents } from '../../../src/events/produce-events.js';

describe('events a message produces (produceEvents)', () => {
  const input = (outcome: string, type = 'opt-out') => ({
    clinicId: 'downtown',
    messageSid: 'SM0123456789abcdef0123456789abcdef',
    from: '+13125550177',
    patientIds: ['p-1'],
    receivedAt: new Date('2026-11-30T10:00:00Z'),
    at: new Date('2026-11-30T10:05:00Z'),
    actions: [{ type, outcome, ruleName: 'opt-out' }],
  });

  it('when a STOP changes the consent, then one consent.opted_out event carries the time the patient texted', () => {
    const events = produceEvents(input('opted-out'));
    expect(events.map((e) => e.type)).to.deep.equal(['consent.opted_out']);
    expect(events[0]!.data).to.include({ changed: true, optedOut: true, changedAt: '2026-11-30T10:00:00.000Z' });
  });

  it('when a replayed STOP or START is older than the stored consent (stale), then no consent event is produced', () => {
    expect(produceEvents(input('stale', 'opt-out'))).to.deep.equal([]);
    expect(produceEvents(input('stale', 'opt-in'))).to.deep.equal([]);
  });

  it('when a rule routed a message as urgent, then message.routed carries the priority and the reason; an older record without them reads normal', () => {
    const urgent = produceEvents({ ...input('routed', 'route-to-staff'), actions: [{ type: 'route-to-staff', outcome: 'routed', ruleName: 'emergency', detail: { mediaCount: 0, priority: 'urgent', reason: 'chest pain' } }] });
    expect(urgent.map((e) => e.type)).to.deep.equal(['message.routed']);
    expect(urgent[0]!.data).to.include({ priority: 'urgent', reason: 'chest pain', mediaCount: 0 });
    const older = produceEvents({ ...input('routed', 'route-to-staff'), actions: [{ type: 'route-to-staff', outcome: 'routed', ruleName: 'message-to-staff', detail: { mediaCount: 1 } }] });
    expect(older[0]!.data).to.include({ priority: 'normal', reason: null, mediaCount: 1 });
  });
});
