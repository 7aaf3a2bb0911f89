import * as chai from 'chai';
import chaiAsPromised from 'chai-as-promised';
import { stopTestMongo } from './mongo.js';
import { assertNoOpenHandles, startHandleTrace } from './open-handles.js';

chai.use(chaiAsPromised);

/**
 * Root hooks for the whole run. Mocha exits on its own (no `exit: true`), so the last hook
 * fails the run, naming each leftover, when a suite leaves a server, client, child process,
 * watcher or timer open.
 */
export const mochaHooks = {
  beforeAll(): void {
    startHandleTrace();
  },
  afterAll: [
    async function stopSharedTestMongo(): Promise<void> {
      await stopTestMongo();
    },
    async function noOpenHandlesLeft(this: Mocha.Context): Promise<void> {
      await assertNoOpenHandles(this.runnable());
    },
  ],
};
