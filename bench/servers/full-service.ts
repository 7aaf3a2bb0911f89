/**
 * The whole service, compiled, as `npm run start:prod` runs it: startService from the
 * `npm run build` output (SERVICE_MAIN, default dist/src/main.js) with this process's
 * environment. Only the public composition root is used, so the bench does not follow
 * the service's internals around.
 *
 * BENCH_COUNT_COMMANDS=<file>: the driver's command monitoring (`commandStarted`, turned on
 * for every MongoClient this process connects) counts the database commands the service
 * sends, by `command:collection`, and the ms they waited for their answers (`ms command:collection`)
 * (in the stats' counts); the first command of each shape
 * (command, collection, the filter's fields and operators, the sort) is written to <file>
 * for the bench to EXPLAIN.
 */
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { MongoClient } from 'mongodb';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serveParent } from './child.js';

interface ServiceMain {
  startService(env: Record<string, string | undefined>): Promise<{ server: Server; stop(): Promise<unknown> }>;
}

const counts: Record<string, number> = {};
const commandsFile = process.env.BENCH_COUNT_COMMANDS;
if (commandsFile) {
  await monitorCommands(commandsFile);
}

const main = resolve(process.env.SERVICE_MAIN ?? 'dist/src/main.js');
const { startService } = (await import(pathToFileURL(main).href)) as ServiceMain;
const service = await startService(process.env);
serveParent(service.server, () => service.stop(), commandsFile ? () => ({ ...counts }) : undefined);

/** The shape of a filter: its fields and the operators on them, values left out. */
function shape(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Date || Array.isArray(value)) {
    return '?';
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k.startsWith('$') && Array.isArray(v) ? v.map(shape) : shape(v);
  }
  return out;
}

/** Turns on command monitoring for every MongoClient the service connects (the service's own driver module). */
async function monitorCommands(file: string): Promise<void> {
  const mongodb = await import('mongodb');
  const shapes = new Map<string, { command: string; collection: string; db: string; body: Record<string, unknown> }>();
  let written = 0;
  const connect = mongodb.MongoClient.prototype.connect;
  mongodb.MongoClient.prototype.connect = function connectMonitored(this: MongoClient) {
    // the driver has the setter (it sets options.monitorCommands), its types do not
    (this as unknown as { monitorCommands: boolean }).monitorCommands = true;
    this.on('commandStarted', (e) => {
      const collection = typeof e.command[e.commandName] === 'string' ? (e.command[e.commandName] as string) : '';
      const key = `${e.commandName}:${collection}`;
      counts[key] = (counts[key] ?? 0) + 1;
      counts.total = (counts.total ?? 0) + 1;
      const c = e.command as Record<string, unknown>;
      const updates = Array.isArray(c.updates) ? (c.updates as { q?: unknown }[]) : [];
      const deletes = Array.isArray(c.deletes) ? (c.deletes as { q?: unknown }[]) : [];
      const filter = c.filter ?? c.query ?? updates[0]?.q ?? deletes[0]?.q;
      if (filter === undefined) {
        return;
      }
      const id = `${key} ${JSON.stringify(shape(filter))} ${JSON.stringify(c.sort ?? null)}`;
      if (!shapes.has(id)) {
        shapes.set(id, { command: e.commandName, collection, db: e.databaseName, body: c });
      }
    });
    // Time each command waits for its answer (the database's share of a message), by the same key, in ms.
    const started = new Map<number, string>();
    this.on('commandStarted', (e) => {
      started.set(e.requestId, `${e.commandName}:${typeof e.command[e.commandName] === 'string' ? (e.command[e.commandName] as string) : ''}`);
    });
    const finished = (e: { requestId: number; duration: number }): void => {
      const key = started.get(e.requestId);
      started.delete(e.requestId);
      if (key !== undefined) {
        counts[`ms ${key}`] = (counts[`ms ${key}`] ?? 0) + e.duration;
      }
    };
    this.on('commandSucceeded', finished);
    this.on('commandFailed', finished);
    // Time waited for a pooled connection before a command could be sent (not in the above),
    // and connections opened.
    this.on('connectionCheckedOut', (e: { durationMS: number }) => {
      counts['pool checkouts'] = (counts['pool checkouts'] ?? 0) + 1;
      counts['pool checkout ms'] = (counts['pool checkout ms'] ?? 0) + e.durationMS;
    });
    this.on('connectionCheckOutFailed', (e: { durationMS: number }) => {
      counts['pool checkouts failed'] = (counts['pool checkouts failed'] ?? 0) + 1;
      counts['pool checkout ms'] = (counts['pool checkout ms'] ?? 0) + e.durationMS;
    });
    this.on('connectionCreated', () => void (counts['pool connections opened'] = (counts['pool connections opened'] ?? 0) + 1));
    return connect.call(this);
  } as typeof connect;
  // Written on every stats request (cheap: a few dozen shapes), so the bench reads it when it wants.
  const flush = (): void => {
    if (shapes.size !== written) {
      written = shapes.size;
      writeFileSync(file, mongodb.BSON.EJSON.stringify([...shapes].map(([id, s]) => ({ id, ...s })), { relaxed: false }));
    }
  };
  setInterval(flush, 1000).unref();
  process.on('message', flush);
}
