import { expect } from 'chai';
import { simulateFromEnv } from '../../../src/admin/simulate.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../../support/mongo.js';

/** Every collection with its document count: equal before and after means nothing was written. */
async function counts(t: TestMongoStore): Promise<Record<string, number>> {
  const db = t.store.client.db(t.dbName);
  const out: Record<string, number> = {};
  for (const c of await db.listCollections().toArray()) {
    out[c.name] = await db.collection(c.name).countDocuments();
  }
  return out;
}

describe('rules simulate against MongoDB', function () {
  let handle: TestMongoStore | undefined;

  before(async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'simulate', monitor: true });
    await handle.store.upsertPatients([{ id: 'p-1', clinicId: 'alpha', firstName: 'Ana', lastName: 'Diaz', phone: '+13125550111' }]);
    await handle.store.upsertAppointments([{ id: 'a-1', clinicId: 'alpha', patientId: 'p-1', startsAt: new Date('2030-01-10T15:30:00Z'), status: 'scheduled' }]);
  });

  after(async () => {
    await handle?.dispose();
  });

  it('when MONGODB_URI is set, then patients are read from it, actions are dry runs, and nothing is written', async () => {
    const t = handle as TestMongoStore;
    const before = await counts(t);
    const sim = await simulateFromEnv({
      env: { MONGODB_URI: t.uri },
      rulesDir: 'test/fixtures/rules-check/good',
      clinicsFile: 'test/fixtures/rules-check/clinics.yaml',
      seedFile: null,
      clinicId: 'alpha',
      from: '+13125550111',
      body: 'CONFIRM',
      at: '2030-01-09 10:00',
    });
    expect(sim.sender.patients).to.deep.equal([{ id: 'p-1', firstName: 'Ana' }]);
    expect(sim.actions.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal(['confirm-appointment:confirmed']);
    expect(sim.notes[0]).to.equal('patients, appointments and opt-outs read from MONGODB_URI (read-only)');
    expect((await t.store.getAppointment('a-1'))?.status).to.equal('scheduled');
    expect(await t.store.getOptOut('alpha', '+13125550111')).to.equal(null);
    expect(await counts(t)).to.deep.equal(before);
  });
});
