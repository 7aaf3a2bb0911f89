/**
 * Database commands per message on MongoDB: the real app (createApp) on a MongoStore whose
 * client has command monitoring on, one signed request at a time, counting the commands
 * started between sending the request and receiving the answer (the hot path), and
 * those started after the answer (off the hot path, e.g. dropping stale rate counters).
 */
import { createServer, type Server } from 'node:http';
import type { CommandStartedEvent } from 'mongodb';
import { loadConfig } from '../../src/config/load-config.js';
import { createApp } from '../../src/http/create-app.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { buildSnapshot } from '../../src/service/build-snapshot.js';
import { LiveConfig } from '../../src/service/live-config.js';
import { createReadiness } from '../../src/service/readiness.js';
import { serviceEnv } from '../lib/bench-env.js';
import { openBenchDb } from '../lib/mongo-db.js';
import { formEncode, twilioSignature, WEBHOOK_PATH } from '../lib/request-mix.js';
import { BENCH_ACCOUNT_SID, BENCH_BASE_URL, BENCH_TOKEN, createWorld } from '../lib/world.js';

export interface CommandCount {
  message: string;
  sender: string;
  outcome: string;
  hotPath: number;
  commands: string[];
  afterReply: string[];
}

const CASES: Array<{ message: string; patient: number | null; note: string }> = [
  { message: 'HELP', patient: 0, note: 'known patient' },
  { message: 'CONFIRM', patient: 1, note: 'known patient, appointment scheduled' },
  { message: 'CONFIRM', patient: 1, note: 'same patient again (already confirmed)' },
  { message: 'STOP', patient: 2, note: 'known patient' },
  { message: 'Running late, sorry', patient: 3, note: 'known patient, free text (to staff)' },
  { message: 'HELP', patient: null, note: 'unknown number' },
];

export async function runDbCommands(options: { mongoUri: string; log: (l: string) => void }): Promise<CommandCount[]> {
  const world = await createWorld({ clinics: 1, patientsPerClinic: 8, familyShare: 0 });
  const db = await openBenchDb(options.mongoUri, 'commands', world, true);
  const env = serviceEnv(world, { mongodbUri: db.uri, logLevel: 'silent' });
  const config = loadConfig(env);
  const metrics = createMetrics();
  const live = new LiveConfig(await buildSnapshot(config, env));
  const app = createApp({ config, live, store: db.store, logger: createLogger('silent'), metrics, readiness: createReadiness({ store: db.store, live, metrics }) });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const names: string[] = [];
  const listener = (e: CommandStartedEvent): void => {
    names.push(e.commandName);
  };
  db.store.client.on('commandStarted', listener);
  const clinic = world.clinics[0] as { number: string };
  let n = 0;
  const send = async (body: string, from: string): Promise<string> => {
    n += 1;
    const sid = `SM${String(n).padStart(32, '0')}`;
    const params = { MessageSid: sid, SmsMessageSid: sid, AccountSid: BENCH_ACCOUNT_SID, From: from, To: clinic.number, Body: body, NumMedia: '0', NumSegments: '1', ApiVersion: '2010-04-01' };
    const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(BENCH_TOKEN, `${BENCH_BASE_URL}${WEBHOOK_PATH}`, params) },
      body: formEncode(params),
    });
    if (res.status !== 200) {
      throw new Error(`db-commands: ${body} answered ${res.status}`);
    }
    return res.text();
  };
  try {
    // Warm the connection pool (and the sender document of patient 7) first.
    await send('hello', (world.patients[7] as { phone: string }).phone);
    await db.store.settle();
    const out: CommandCount[] = [];
    for (const c of CASES) {
      const from = c.patient === null ? '+17735550123' : (world.patients[c.patient] as { phone: string }).phone;
      names.length = 0;
      const twiml = await send(c.message, from);
      const hot = [...names];
      await db.store.settle();
      await new Promise((r) => setTimeout(r, 50));
      const after = names.slice(hot.length);
      const reply = /<Message>([^<]*)<\/Message>/.exec(twiml)?.[1] ?? '(empty)';
      out.push({ message: c.message, sender: c.note, outcome: reply.slice(0, 60), hotPath: hot.length, commands: hot, afterReply: after });
      options.log(`  ${c.message} (${c.note}): ${hot.length} commands on the hot path [${hot.join(', ')}]${after.length ? `, ${after.length} after the reply [${after.join(', ')}]` : ''}`);
    }
    return out;
  } finally {
    db.store.client.off('commandStarted', listener);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.drop();
    await world.remove();
  }
}
