import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { InboundMessage } from '../domain.js';
import { AppError, errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { compareEntries, decodeEntry, encodeEntry, entryId, type SpoolEntry } from './spool-entry.js';

export type { SpoolEntry } from './spool-entry.js';

export interface SpoolOptions {
  /** SPOOL_DIR; created when missing. */
  dir: string;
  logger: Logger;
  clock?: () => Date;
  /** Told the depth after every change (the sms_spool_depth gauge). */
  onDepth?: (depth: number) => void;
}

/** Final entry files: `<id>.json`. */
const ENTRY_FILE = /^([A-Za-z0-9]{1,64})\.json$/;
/** Files being written: `.<id>.<pid>.<random>.tmp`, renamed to `<id>.json` once synced. */
const TEMP_FILE = /^\.([A-Za-z0-9]{1,64})\.(\d{1,10})\.([0-9a-f]{1,32})\.tmp$/;
export const QUARANTINE_DIR = 'quarantine';
/** Temporary files this process is writing right now (another Spool on the same directory must leave them alone). */
const WRITING = new Set<string>();

const isCode = (err: unknown, code: string): boolean => errorCode(err) === code;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal.
    return isCode(err, 'EPERM');
  }
}

/**
 * The outage spool: one file per message in SPOOL_DIR, written to a temporary name,
 * fsync'd, renamed into place and the directory fsync'd, so after a crash every
 * `<id>.json` is complete. Torn, garbage or altered files are moved to `quarantine/`
 * with a warning and never stop the service. One entry per MessageSid: a repeated
 * delivery during the outage keeps the first one.
 */
export class Spool {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly onDepth: (depth: number) => void;
  private readonly ids = new Set<string>();
  /** When each entry's message arrived (ms): the oldest one's age is on /readyz and /metrics. */
  private readonly received = new Map<string, number>();
  private readonly pending = new Map<string, Promise<SpoolEntry>>();
  private seq = 0;

  private constructor(options: SpoolOptions) {
    this.dir = path.resolve(options.dir);
    this.logger = options.logger.child({ component: 'spool' });
    this.clock = options.clock ?? ((): Date => new Date());
    this.onDepth = options.onDepth ?? ((): void => undefined);
  }

  /**
   * Opens (creating if needed) the spool directory and recovers it: a temporary file
   * left by a crashed writer is promoted when it is complete, quarantined when torn.
   * @param options - directory, logger, clock, depth listener
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    try {
      await fs.mkdir(path.join(spool.dir, QUARANTINE_DIR), { recursive: true });
    } catch (cause) {
      throw new AppError('SPOOL_ERROR', `cannot create the spool directory ${spool.dir}`, { cause });
    }
    await spool.recover();
    return spool;
  }

  /**
   * Whether a message could be kept now: writes, syncs and removes a small probe file
   * (its name matches neither entries nor temporary files, so recovery never touches it).
   * Catches a volume gone read-only, unmounted or full where a permission check would not.
   */
  async writable(): Promise<boolean> {
    const probe = path.join(this.dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const handle = await fs.open(probe, 'wx', 0o600);
      try {
        await handle.writeFile('probe', 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      return true;
    } catch {
      return false;
    } finally {
      await fs.rm(probe, { force: true }).catch(() => undefined);
    }
  }

  /** Messages waiting (as far as this instance knows; list() rescans the directory). */
  depth(): number {
    return this.ids.size;
  }

  /**
   * Keeps a message durably. Resolves only once the file and its directory entry are on
   * disk; rejects with SPOOL_ERROR when they cannot be written.
   * @param message - the signature-checked, normalized message
   * @param receivedAt - when the webhook received it
   */
  async append(message: InboundMessage, receivedAt: Date): Promise<SpoolEntry> {
    const id = entryId(message.messageSid);
    const running = this.pending.get(id);
    if (running) {
      return running;
    }
    const write = this.write(id, message, receivedAt).finally(() => this.pending.delete(id));
    this.pending.set(id, write);
    return write;
  }

  private async write(id: string, message: InboundMessage, receivedAt: Date): Promise<SpoolEntry> {
    const final = path.join(this.dir, `${id}.json`);
    this.seq += 1;
    const entry: SpoolEntry = { id, message, receivedAt, spooledAt: this.clock(), seq: this.seq };
    if (this.ids.has(id)) {
      const existing = await this.read(`${id}.json`);
      if (existing) {
        return existing;
      }
    }
    const temp = path.join(this.dir, `.${id}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    WRITING.add(temp);
    try {
      const handle = await fs.open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(encodeEntry(entry), 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, final);
      await this.syncDir();
    } catch (cause) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw new AppError('SPOOL_ERROR', `cannot write spool entry ${id}`, { cause });
    } finally {
      WRITING.delete(temp);
    }
    this.ids.add(id);
    this.received.set(id, receivedAt.getTime());
    this.onDepth(this.ids.size);
    this.logger.warn({ spoolId: id, depth: this.ids.size }, 'message spooled');
    return entry;
  }

  /**
   * Every readable entry in replay order. Rescans the directory (another process, such
   * as `clinic-sms spool replay`, may have added or removed files) and quarantines what
   * cannot be read.
   */
  async list(): Promise<SpoolEntry[]> {
    const names = await this.names();
    const entries: SpoolEntry[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      if (!ENTRY_FILE.test(name)) {
        continue;
      }
      const entry = await this.read(name);
      if (entry) {
        entries.push(entry);
        seen.add(entry.id);
      }
    }
    this.ids.clear();
    seen.forEach((id) => this.ids.add(id));
    for (const id of [...this.received.keys()].filter((k) => !seen.has(k) && !this.pending.has(k))) {
      this.received.delete(id);
    }
    entries.forEach((e) => this.received.set(e.id, e.receivedAt.getTime()));
    for (const id of this.pending.keys()) {
      this.ids.add(id);
    }
    this.onDepth(this.ids.size);
    return entries.sort(compareEntries);
  }

  /**
   * Removes an entry once its record is stored. Removing one that is gone is fine.
   * @param id - the entry's id
   */
  async remove(id: string): Promise<void> {
    if (!ENTRY_FILE.test(`${id}.json`)) {
      throw new AppError('SPOOL_ERROR', 'not a spool entry id');
    }
    try {
      await fs.unlink(path.join(this.dir, `${id}.json`));
      await this.syncDir();
    } catch (cause) {
      if (!isCode(cause, 'ENOENT')) {
        throw new AppError('SPOOL_ERROR', `cannot remove spool entry ${id}`, { cause });
      }
    }
    this.ids.delete(id);
    this.received.delete(id);
    this.onDepth(this.ids.size);
  }

  /** When the oldest waiting message arrived (as far as this instance knows); null: none waits. */
  oldestReceivedAt(): Date | null {
    let oldest = Number.POSITIVE_INFINITY;
    for (const at of this.received.values()) {
      oldest = Math.min(oldest, at);
    }
    return Number.isFinite(oldest) ? new Date(oldest) : null;
  }

  /** Files moved aside because they could not be read. */
  async quarantined(): Promise<string[]> {
    try {
      return (await fs.readdir(path.join(this.dir, QUARANTINE_DIR))).sort();
    } catch {
      return [];
    }
  }

  private async names(): Promise<string[]> {
    try {
      return (await fs.readdir(this.dir)).sort();
    } catch (cause) {
      throw new AppError('SPOOL_ERROR', `cannot read the spool directory ${this.dir}`, { cause });
    }
  }

  /** Reads and checks one entry file; quarantines it (and returns null) when it is bad. */
  private async read(name: string): Promise<SpoolEntry | null> {
    let text: string;
    try {
      text = await fs.readFile(path.join(this.dir, name), 'utf8');
    } catch (err) {
      if (!isCode(err, 'ENOENT')) {
        this.logger.error({ file: name, code: errorCode(err) }, 'cannot read a spool file; left in place');
      }
      return null;
    }
    const decoded = decodeEntry(text);
    const expectedId = ENTRY_FILE.exec(name)?.[1];
    if (!decoded.ok || decoded.entry.id !== expectedId) {
      await this.quarantine(name, decoded.ok ? 'file name does not match its content' : decoded.reason);
      return null;
    }
    return decoded.entry;
  }

  private async recover(): Promise<void> {
    for (const name of await this.names()) {
      const temp = TEMP_FILE.exec(name);
      if (temp) {
        await this.recoverTemp(name, temp[1] as string, Number(temp[2]));
      }
    }
    await this.list();
    if (this.ids.size > 0) {
      this.logger.warn({ depth: this.ids.size }, 'spool holds messages from before this start');
    }
  }

  /** A temporary file whose writer died: promote it when complete, else quarantine it. */
  private async recoverTemp(name: string, id: string, pid: number): Promise<void> {
    const file = path.join(this.dir, name);
    if (WRITING.has(file) || (pid !== process.pid && processAlive(pid))) {
      return; // A live writer is still at it.
    }
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      return;
    }
    const decoded = decodeEntry(text);
    if (!decoded.ok || decoded.entry.id !== id) {
      await this.quarantine(name, decoded.ok ? 'file name does not match its content' : `interrupted write: ${decoded.reason}`);
      return;
    }
    const final = path.join(this.dir, `${id}.json`);
    try {
      await fs.access(final);
      await fs.rm(file, { force: true }); // The entry made it in under its final name.
    } catch {
      const handle = await fs.open(file, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(file, final);
      this.logger.warn({ spoolId: id }, 'completed an interrupted spool write');
    }
    await this.syncDir();
  }

  private async quarantine(name: string, reason: string): Promise<void> {
    const target = path.join(this.dir, QUARANTINE_DIR, `${name.replace(/^\./, '')}.${this.clock().getTime()}.${randomBytes(3).toString('hex')}`);
    try {
      await fs.rename(path.join(this.dir, name), target);
      await this.syncDir();
      this.logger.error({ file: name, reason, movedTo: path.relative(this.dir, target) }, 'unreadable spool file quarantined');
    } catch (err) {
      if (!isCode(err, 'ENOENT')) {
        this.logger.error({ file: name, reason, code: errorCode(err) }, 'unreadable spool file could not be quarantined; skipped');
      }
    }
  }

  private async syncDir(): Promise<void> {
    const handle = await fs.open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
