import { expect } from 'chai';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';
import type { Appointment, Patient } from '../../../src/domain.js';

const patient = (id: string, phone: string, clinicId = 'downtown'): Patient => ({ id, clinicId, firstName: 'A', lastName: 'B', phone });
const appointment = (id: string, patientId: string, days: number): Appointment => ({
  id,
  clinicId: 'downtown',
  patientId,
  startsAt: new Date(Date.UTC(2030, 0, days)),
  status: 'scheduled',
});

describe('MemoryStore look-up indexes', () => {
  it("when a patient's phone or clinic changes on upsert, then findPatientsByPhone finds them only under the new one", async () => {
    const store = new MemoryStore();
    await store.upsertPatients([patient('p1', '+13125550001'), patient('p2', '+13125550001')]);
    await store.upsertPatients([patient('p1', '+13125550002')]);
    await store.upsertPatients([patient('p2', '+13125550001', 'northside')]);
    expect((await store.findPatientsByPhone('downtown', '+13125550001')).map((p) => p.id)).to.deep.equal([]);
    expect((await store.findPatientsByPhone('downtown', '+13125550002')).map((p) => p.id)).to.deep.equal(['p1']);
    expect((await store.findPatientsByPhone('northside', '+13125550001')).map((p) => p.id)).to.deep.equal(['p2']);
  });

  it("when an appointment moves to another patient, then the next appointment follows it", async () => {
    const store = new MemoryStore();
    await store.upsertPatients([patient('p1', '+13125550001'), patient('p2', '+13125550002')]);
    await store.upsertAppointments([appointment('a1', 'p1', 5), appointment('a2', 'p1', 9)]);
    await store.upsertAppointments([appointment('a1', 'p2', 5)]);
    const now = new Date(Date.UTC(2029, 0, 1));
    expect((await store.findNextAppointment('downtown', ['p1'], now))?.id).to.equal('a2');
    expect((await store.findNextAppointment('downtown', ['p2'], now))?.id).to.equal('a1');
    expect((await store.advanceNextAppointment('downtown', ['p1', 'p2'], now, 'confirmed', now)).after?.id).to.equal('a1');
  });
});
