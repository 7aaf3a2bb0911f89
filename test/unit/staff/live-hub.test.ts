import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import { MemoryConversationStore } from '../../../src/conversations/memory-conversation-store.js';
import { createLogger } from '../../../src/logger.js';
import { LiveHub } from '../../../src/staff/live/live-hub.js';
import { MemoryStore } from '../../../src/store/memory/memory-store.js';

describe('the staff pages\' live hub', function () {
  this.timeout(20_000);

  it('when a burst of changes larger than one look\'s page lands within the overlap window, then the stream gets every one of them, once, and a change after the burst too', async () => {
    const conversations = new MemoryConversationStore(new MemoryStore());
    const hub = new LiveHub({ conversations, logger: createLogger('silent'), pollMs: 50 });
    const app = new Koa();
    app.use((ctx) => hub.attach(ctx, 'burst'));
    const server = app.listen(0);
    hub.start();
    const controller = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { signal: controller.signal });
      const reader = res.body!.getReader();
      const ids = Array.from({ length: 1234 }, () => `cv_${randomUUID().replace(/-/g, '')}`);
      for (const [i, id] of ids.entries()) {
        await conversations.recordRouted({ clinicId: 'burst', phone: `+1312555${String(i).padStart(4, '0')}`, clinicNumber: '+13125550100', messageSid: `SM${randomUUID().replace(/-/g, '')}`, at: new Date(), body: 'hi', patients: [] }, id);
      }
      const late = `cv_${randomUUID().replace(/-/g, '')}`;
      let text = '';
      const seen = (): Set<string> => new Set([...text.matchAll(/event: message\.created\ndata: (cv_[0-9a-f]{32})/g)].map((m) => m[1]!));
      let lateSent = false;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && !seen().has(late)) {
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 1000)))]);
        clearTimeout(timer);
        if (chunk && !chunk.done) {
          text += Buffer.from(chunk.value).toString('utf8');
        }
        if (!lateSent && ids.every((id) => seen().has(id))) {
          lateSent = true;
          await conversations.recordRouted({ clinicId: 'burst', phone: '+13125559999', clinicNumber: '+13125550100', messageSid: `SM${randomUUID().replace(/-/g, '')}`, at: new Date(), body: 'later', patients: [] }, late);
        }
      }
      const got = seen();
      expect(ids.filter((id) => !got.has(id)), 'changes of the burst never sent').to.deep.equal([]);
      expect(got.has(late), 'the change after the burst').to.equal(true);
      expect([...text.matchAll(/event: message\.created\n/g)].length, 'each change once').to.equal(ids.length + 1);
    } finally {
      controller.abort();
      await hub.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
