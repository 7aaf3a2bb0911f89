import { resolve } from 'node:path';
import { loadConfig, type Config } from '../../config/load-config.js';
import { loadClinicsFile } from '../../config/clinics-file.js';
import { createLogger } from '../../logger.js';
import { createMetrics } from '../../metrics.js';
import { maskPhone } from '../../phone.js';
import { buildSnapshot } from '../../service/build-snapshot.js';
import { handleMessage } from '../../service/handle-message.js';
import { SpoolReplayer } from '../../spool/replayer.js';
import { Spool } from '../../spool/spool.js';
import { openBackend } from '../../store/backend.js';
import { wantsHelp, type CliCommand, type CliIO } from '../io.js';
import { openStaffStores } from '../../conversations/staff-api.js';
import { conversationRouting } from '../../conversations/staff-routing.js';

const USAGE = [
  'usage: clinic-sms spool status    list the messages kept during a database outage (SPOOL_DIR)',
  '       clinic-sms spool replay    replay them into MongoDB (MONGODB_URI) now',
];

/** The config with its paths taken relative to the command's working directory. */
function configFor(io: CliIO): Readonly<Config> {
  const config = loadConfig(io.env);
  return {
    ...config,
    clinicsFile: resolve(io.cwd, config.clinicsFile),
    rulesDir: resolve(io.cwd, config.rulesDir),
    spoolDir: resolve(io.cwd, config.spoolDir),
  };
}

/** Logs as JSON lines to stderr (stdout is for the report). */
function cliLogger(io: CliIO, level: string): ReturnType<typeof createLogger> {
  return createLogger(level, { write: (line: string) => io.err(line.trimEnd()) });
}

async function status(io: CliIO): Promise<number> {
  const config = configFor(io);
  const logger = cliLogger(io, 'warn');
  const spool = await Spool.open({ dir: config.spoolDir, logger });
  const entries = await spool.list();
  const clinics = await loadClinicsFile(config.clinicsFile).catch(() => null);
  const quarantined = await spool.quarantined();
  io.out(`spool ${config.spoolDir}: ${entries.length} message(s) waiting, ${quarantined.length} quarantined file(s)`);
  for (const e of entries) {
    const clinic = clinics?.byNumber.get(e.message.to)?.id ?? 'unknown-clinic';
    io.out(`  ${e.receivedAt.toISOString()}  ${e.message.messageSid}  ${clinic}  from ${maskPhone(e.message.from)}`);
  }
  if (quarantined.length > 0) {
    io.out(`  quarantined (unreadable, kept for inspection in ${resolve(config.spoolDir, 'quarantine')}):`);
    quarantined.forEach((q) => io.out(`    ${q}`));
  }
  return 0;
}

async function replay(io: CliIO): Promise<number> {
  const config = configFor(io);
  if (!config.mongodbUri) {
    io.err('error: MONGODB_URI is not set. Replaying into the embedded store would lose the messages when this command exits.');
    return 2;
  }
  const logger = cliLogger(io, io.env.LOG_LEVEL || 'warn');
  const snapshot = await buildSnapshot(config, io.env);
  const spool = await Spool.open({ dir: config.spoolDir, logger });
  const backend = await openBackend({ mongodbUri: config.mongodbUri }, { logger });
  const { store } = backend;
  try {
    // Replayed messages reach staff as the webhook's would: in the conversations.
    const staff = conversationRouting((await openStaffStores(backend)).conversations);
    const pipeline = { store, staff, logger, metrics: createMetrics(), clock: () => new Date() };
    const replayer = new SpoolReplayer({ ...pipeline, spool, replay: (message, receivedAt) => handleMessage(pipeline, snapshot, message, 'replay', receivedAt) });
    const report = await replayer.replayNow();
    if (report.storeDown) {
      io.err(`error: cannot reach MongoDB (MONGODB_URI); ${report.replayed} replayed, ${report.left} still in the spool.`);
      return 1;
    }
    io.out(`replayed ${report.replayed} of ${report.found} message(s) in ${report.ms} ms; ${report.failed} failed, ${report.left} left in the spool`);
    return report.left === 0 ? 0 : 1;
  } finally {
    await store.close();
  }
}

/** `clinic-sms spool status|replay`. */
export const spool: CliCommand = async (args, io) => {
  const [sub, ...rest] = args;
  if (wantsHelp(args)) {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }
  if (rest.length > 0 || (sub !== 'status' && sub !== 'replay')) {
    USAGE.forEach((l) => io.err(l));
    return 2;
  }
  return sub === 'status' ? status(io) : replay(io);
};
