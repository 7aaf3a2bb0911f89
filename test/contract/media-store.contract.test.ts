import { expect } from 'chai';
import { MongoMediaStore } from '../../src/media/mongo-media-store.js';
import { mediaKinds } from '../support/media-kinds.js';
import { getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { describeMediaStoreContract } from './media-store.contract.js';

for (const kind of mediaKinds('media_contract')) {
  describeMediaStoreContract(kind.name, async () => {
    const made = await kind.make();
    return made ? { media: made.media, dispose: () => made.dispose() } : null;
  });
}

describe('MongoMediaStore on the wire', function () {
  it('when a file is saved, then GridFS bucket "media" holds it with the clinic, MessageSid, index, sha256, detected type, size and fetchedAt', async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    const handle = await openTestMongoStore(server, { label: 'gridfs' });
    try {
      const media = new MongoMediaStore(handle.store.database);
      await media.init();
      await media.init();
      const fetchedAt = new Date('2026-06-01T12:00:00Z');
      const meta = { clinicId: 'downtown', messageSid: `MM${'1'.repeat(32)}`, index: 2, sha256: 'c'.repeat(64), contentType: 'application/pdf', size: 4, fetchedAt };
      const fileId = await media.saveFile(meta, Buffer.from('%PDF'));
      const files = await handle.store.database.collection('media.files').find({}).toArray();
      expect(files).to.have.length(1);
      expect(String(files[0]?._id)).to.equal(fileId);
      expect(files[0]?.length).to.equal(4);
      expect(files[0]?.metadata).to.deep.equal({ clinic: 'downtown', MessageSid: meta.messageSid, index: 2, sha256: meta.sha256, detectedType: 'application/pdf', size: 4, fetchedAt });
      expect(await handle.store.database.collection('media.chunks').countDocuments({ files_id: files[0]?._id })).to.equal(1);
      const indexes = (await handle.store.database.collection('media').indexes()).map((i) => i.name);
      expect(indexes).to.include.members(['work_nextAttemptAt', 'clinic_message_index']);
    } finally {
      await handle.dispose();
    }
  });
});
