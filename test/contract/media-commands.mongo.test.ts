import { expect } from 'chai';
import { MongoMediaStore } from '../../src/media/mongo-media-store.js';
import { aMediaRecord } from '../support/media-builders.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../support/mongo.js';
import { newClinicId } from './store-fixtures.js';

/** What the media relay's write of one message costs on MongoDB, counted with the driver's command monitoring. */
describe('media records: database commands per message (MongoDB)', function () {
  let handle: TestMongoStore | undefined;
  let media: MongoMediaStore;

  before(async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'media_commands', monitor: true });
    media = new MongoMediaStore(handle.store.database);
    await media.init();
  });

  after(async function () {
    await handle?.dispose();
  });

  it('when a message with 10 media is added, again after a crash, then each add is one insert command', async () => {
    const clinicId = newClinicId();
    const first = aMediaRecord({ clinicId });
    const records = [first, ...Array.from({ length: 9 }, (_, i) => aMediaRecord({ clinicId, messageSid: first.messageSid, index: i + 1 }))];
    const commands = handle?.commands;
    commands?.reset();
    expect(await media.addJobs(records)).to.equal(10);
    expect(commands?.names).to.deep.equal(['insert']);
    commands?.reset();
    expect(await media.addJobs(records), 'the relay adding the same message again').to.equal(0);
    expect(commands?.names).to.deep.equal(['insert']);
  });
});
