/**
 * The database-command budget of one message, over the wire: the whole service
 * (startService, the composition root production runs) on a MongoDB store whose client
 * has command monitoring on, one signed webhook request at a time. A message's cost is
 * every command it starts, from the request until the store has settled after the reply.
 * A change that adds a command to one of these paths fails here.
 *
 * To budget another path, add a case to CASES: what the sender has on file, what they
 * text (after how many uncounted messages), what the reply must say (so the case really
 * took that path) and the budget.
 */
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { startService, type RunningService } from '../../src/main.js';
import type { Store } from '../../src/store/store.js';
import { getTestMongo, openTestMongoStore, type TestMongoStore } from '../support/mongo.js';
import { WEBHOOK_PATH, addPatient, inboundParams, signedRequest, uniquePhone } from '../support/test-app.js';
import { fixtureServiceEnv } from '../support/service-env.js';
import { backendFor } from '../support/backends.js';

interface BudgetCase {
  /** Completes "when ..." in the test name: who texts what. */
  name: string;
  body: string;
  /** Messages the sender sends first, not counted, instead of "hello N" (a conversation's earlier messages). */
  first?: string[];
  /** What the sender has on file before the message. */
  setup(store: Store, phone: string): Promise<void>;
  /** Messages the sender sends first, not counted (default 1: a number's first message also stores its roster). */
  before?: number;
  /** The reply that shows the message took the path budgeted here. */
  reply: RegExp;
  /** At most this many database commands. */
  budget: number;
}

const inTwoDays = (): Date => new Date(Date.now() + 2 * 86_400_000);

const CASES: BudgetCase[] = [
  {
    name: 'a known patient texts HELP',
    body: 'HELP',
    setup: async (store, phone) => void (await addPatient(store, { phone })),
    reply: /help|call/i,
    // claim the message, count the sender (opt-out and patients in the same command), complete.
    budget: 3,
  },
  {
    name: 'a known patient texts CONFIRM for an upcoming appointment',
    body: 'CONFIRM',
    setup: async (store, phone) => void (await addPatient(store, { phone }, [{ startsAt: inTwoDays() }])),
    reply: /confirmed/i,
    // claim, count the sender, read the soonest appointment and move it on its _id unless a
    // newer patient response stands (one filter cannot do both without skipping to a later
    // appointment: see MongoStore.advanceNextAppointment), complete.
    budget: 5,
  },
  {
    name: 'a family phone texts CONFIRM and is asked which appointment',
    body: 'CONFIRM',
    setup: async (store, phone) => {
      await addPatient(store, { phone, firstName: 'Dylan' }, [{ startsAt: inTwoDays() }]);
      await addPatient(store, { phone, firstName: 'Carla' }, [{ startsAt: new Date(inTwoDays().getTime() + 4 * 86_400_000) }]);
    },
    reply: /Which appointment\? Reply 1 for Dylan/,
    // claim, count the sender (its pending choice comes back in the same command), read the
    // patients' upcoming appointments, keep the question with the sender, complete: the
    // same 5 as a CONFIRM that confirms (at most one more is allowed).
    budget: 5,
  },
  {
    name: 'a family phone answers "2" to which appointment',
    body: '2',
    first: ['hello', 'CONFIRM'],
    setup: async (store, phone) => {
      await addPatient(store, { phone, firstName: 'Dylan' }, [{ startsAt: inTwoDays() }]);
      await addPatient(store, { phone, firstName: 'Carla' }, [{ startsAt: new Date(inTwoDays().getTime() + 4 * 86_400_000) }]);
    },
    reply: /Carla's appointment on .* is confirmed/,
    // claim, count the sender (the pending choice comes with it), move the chosen appointment
    // on its _id (one command: no "soonest" to read first), end the question, complete: one
    // more than a CONFIRM without a question would be 4 here; at most 6 (CONFIRM's 5 + 1).
    budget: 5,
  },
  {
    name: 'a known patient texts free text (routed to the staff conversation)',
    body: 'Running 10 minutes late, sorry!',
    setup: async (store, phone) => void (await addPatient(store, { phone }, [{ startsAt: inTwoDays() }])),
    reply: /will respond shortly/i,
    // claim, count the sender, upsert the conversation, complete: what the inbox insert cost
    // before conversations replaced it; later ways of routing (events) must not cost more.
    budget: 4,
  },
  {
    name: 'an unknown number texts again (the unknown-number text went out with its first message)',
    body: 'Hi, I am a new patient',
    setup: async () => undefined,
    // Once a day per conversation (sender.recentReplies): no text this time; the one that
    // went out cost one more command, noting it with the sender (sender.recentReplies).
    reply: /^<\?xml[^>]*\?><Response\/>$/,
    // claim, count the sender, upsert the conversation, complete. One more than before
    // unknown numbers reached staff: the conversation is a document of its own, and without
    // transactions no other command can carry its write.
    budget: 4,
  },
  {
    name: 'a known patient texts over the rate limit',
    body: 'are you there?',
    setup: async (store, phone) => void (await addPatient(store, { phone })),
    // test/fixtures/clinics.yaml: downtown answers 5 messages a minute per sender.
    before: 5,
    reply: /^<\?xml[^>]*\?><Response\/>$/,
    // claim, count the sender, upsert the conversation, complete: one more than before,
    // as for an unknown number.
    budget: 4,
  },
];

describe('database commands per message, over the wire (MongoDB)', function () {
  let handle: TestMongoStore | undefined;
  let service: RunningService | undefined;
  let spoolDir: string;
  let port: number;

  before(async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    handle = await openTestMongoStore(server, { label: 'budget', monitor: true });
    spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-budget-'));
    service = await startService(
      fixtureServiceEnv({ SPOOL_DIR: spoolDir }),
      // The events and media pollers would add their own commands to the count.
      { backend: backendFor(handle.store), background: false },
    );
    port = (service.server.address() as AddressInfo).port;
    await quiet();
  });

  after(async function () {
    if (handle) {
      handle.commands?.stop();
      await handle.store.client.db(handle.dbName).dropDatabase();
    }
    await service?.stop(); // closes the store
    if (spoolDir) {
      await fs.rm(spoolDir, { recursive: true, force: true });
    }
  });

  /** Waits until the service has started no command for a while (its start-up creates indexes in the background). */
  async function quiet(): Promise<void> {
    let seen = -1;
    while (seen !== handle!.commands!.count) {
      seen = handle!.commands!.count;
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** One signed webhook POST; returns the reply and every command it cost. */
  async function send(body: string, from: string): Promise<{ reply: string; commands: string[] }> {
    const { body: form, signature } = signedRequest(inboundParams({ Body: body, From: from }));
    // The previous message's last writes may still be on their way under load (CI ran one
    // over its budget by an update that belonged to the message before): count from quiet.
    await quiet();
    handle!.commands!.reset();
    const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: form,
    });
    const reply = await res.text();
    expect(res.status, reply).to.equal(200);
    await handle!.store.settle();
    return { reply, commands: [...handle!.commands!.names] };
  }

  for (const c of CASES) {
    it(`when ${c.name}, then it costs at most ${c.budget} database commands`, async function () {
      const phone = uniquePhone();
      await c.setup(handle!.store, phone);
      const first = c.first ?? Array.from({ length: c.before ?? 1 }, (_, i) => `hello ${i}`);
      for (const body of first) {
        await send(body, phone); // a number's first message also stores its roster: not the path budgeted here
      }
      const { reply, commands } = await send(c.body, phone);
      expect(reply).to.match(c.reply);
      expect(commands.length, `commands: ${commands.join(', ')}`).to.be.at.most(c.budget);
    });
  }
});
