/**
 * The staff list page over the wire (MongoDB): its rows come from ONE query on
 * `conversations`, sorted in the order of an index whose first key is the clinic (so the
 * database walks the index and stops at the page's end, however many conversations the
 * clinic has), on the first page and on the next (the cursor continues the same walk).
 */
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { CommandStartedEvent } from 'mongodb';
import { startService, type RunningService } from '../../src/main.js';
import { backendFor } from '../support/backends.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../support/mongo.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { FIXTURE_STAFF_FILE } from '../support/staff-auth-app.js';
import { twilioAt } from '../support/staff-webhooks.js';
import { uniquePhone } from '../support/test-app.js';

describe('the staff list page: one indexed query for its rows, over the wire (MongoDB)', function () {
  this.timeout(120_000);
  let handle: TestMongoStore | undefined;
  let service: RunningService | undefined;
  let spoolDir: string;
  let baseUrl: string;
  let cookie: string;
  const started: CommandStartedEvent[] = [];
  const listener = (e: CommandStartedEvent): void => void started.push(e);

  before(async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'stafflist', monitor: true });
    spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-stafflist-'));
    service = await startService(fixtureServiceEnv({ SPOOL_DIR: spoolDir, STAFF_FILE: FIXTURE_STAFF_FILE, PUBLIC_BASE_URL: '' }), { backend: backendFor(handle.store), background: false });
    baseUrl = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
    const twilio = twilioAt(baseUrl);
    // More than one page (50 rows) of unknown numbers in Unassigned.
    for (let i = 0; i < 60; i++) {
      await twilio.text(uniquePhone(), `new patient ${i}`);
    }
    const res = await fetch(`${baseUrl}/staff/auth/demo-sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }, body: 'email=maria%40downtown.example' });
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    handle.store.client.on('commandStarted', listener);
  });

  after(async () => {
    handle?.store.client.off('commandStarted', listener);
    await service?.stop();
    await handle?.dispose().catch(() => undefined);
    if (spoolDir) {
      await fs.rm(spoolDir, { recursive: true, force: true });
    }
  });

  /** Loads a page and returns the `find` commands it sent to `conversations`. */
  async function conversationFinds(pathAndQuery: string): Promise<{ html: string; finds: Array<Record<string, unknown>> }> {
    started.length = 0;
    const res = await fetch(`${baseUrl}${pathAndQuery}`, { headers: { cookie } });
    expect(res.status, pathAndQuery).to.equal(200);
    const html = await res.text();
    const finds = started.filter((e) => e.commandName === 'find' && e.command.find === 'conversations').map((e) => e.command as Record<string, unknown>);
    return { html, finds };
  }

  async function indexKeys(): Promise<string[][]> {
    const indexes = await handle!.store.database.collection('conversations').listIndexes().toArray();
    return indexes.map((i) => Object.keys(i.key as Record<string, number>));
  }

  /** The sort's keys are the tail of an index that starts with clinicId: the walk needs no sort in memory. */
  async function expectIndexedOrder(find: Record<string, unknown>): Promise<void> {
    // The driver hands the sort to the command as a Map (key order is the point).
    const sort = find.sort instanceof Map ? [...(find.sort as Map<string, number>).keys()] : Object.keys((find.sort ?? {}) as Record<string, number>);
    expect(sort.length, "the rows are sorted").to.be.above(0);
    expect(find.limit, 'the query stops at the page end').to.be.a('number').and.at.most(51);
    const fitting = (await indexKeys()).filter((keys) => keys[0] === 'clinicId' && keys.slice(-sort.length).join() === sort.join());
    expect(fitting, `an index ending in ${sort.join(', ')}`).to.have.length.above(0);
  }

  it('when the inbox opens (Unassigned, open, longest waiting first), then its rows are one query on conversations, in index order, limited to the page', async () => {
    const { html, finds } = await conversationFinds('/staff/clinics/downtown');
    expect(finds).to.have.length(1);
    await expectIndexedOrder(finds[0]!);
    expect(html).to.include('More conversations');
  });

  it('when the next page is asked for, then it is again one query on conversations, continuing the same index walk', async () => {
    const first = await conversationFinds('/staff/clinics/downtown');
    const next = /href="([^"]*cursor=[^"]*)"/.exec(first.html)?.[1]?.replace(/&amp;/g, '&');
    expect(next, 'a link to the next page').to.be.a('string');
    const { finds } = await conversationFinds(next!);
    expect(finds).to.have.length(1);
    await expectIndexedOrder(finds[0]!);
  });

  it('when the All view is open, then its rows are one query on conversations too', async () => {
    const { finds } = await conversationFinds('/staff/clinics/downtown?view=all');
    expect(finds).to.have.length(1);
    await expectIndexedOrder(finds[0]!);
  });
});
