import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { errorCode, formatFindings, isAppError, type AppError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * The one watcher of the reloadable files (rules and clinics, KEYS_FILE, STAFF_FILE). Each
 * file (or set of files) is a source; for every source it watches the folders (not the
 * files: editors that save by renaming over the file, and Kubernetes ConfigMap updates, a
 * ..data symlink swap, are seen), backs fs.watch up with a size/time poll where it misses
 * events (network mounts), and reloads on SIGHUP either way. A source's reloads never
 * overlap: a change during a reload is followed by exactly one more. Keeping the last good
 * configuration live when a file is invalid is the source's reload's part (see reloadableFile).
 */

/** A folder the watcher watches, and which of its entries matter (null: the system did not say). */
export interface WatchedFolder {
  dir: string;
  accept(entry: string | null): boolean;
}

/** Something reloadable from files. */
export interface WatchedSource<R = unknown> {
  /** "keys file", "rules": in log lines. */
  name: string;
  /** The folders to watch (asked again after each reload: a folder made later is picked up). */
  folders(): WatchedFolder[];
  /** The files whose size and time the poll compares. */
  files(): Promise<string[]>;
  /** Reloads; never throws for bad content (that is the source's to report). */
  reload(reason: string): Promise<R>;
  /** Called after each reload with its result. */
  onReload?(result: R): void;
}

export interface FileWatcherOptions {
  logger: Logger;
  /** Watch and poll the files (WATCH_RULES); SIGHUP reloads either way. */
  watch: boolean;
  /** Quiet time after the last change before reloading, ms (editors write a file in steps). */
  debounceMs?: number;
  /** How often sizes and times are compared, ms (0: never). */
  pollMs?: number;
  /** Where SIGHUP arrives (the process; tests an EventEmitter; absent: none). */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** One source as registered: reload it now, or wait until it is not reloading. */
export interface Reloader<R> {
  /** Reloads now (SIGHUP, a test); a reload already running is followed by exactly one more, whose result this is. */
  reload(reason: string): Promise<R>;
  /** Resolves once no reload of this source is running. */
  settled(): Promise<void>;
}

interface Entry {
  source: WatchedSource;
  running: Promise<unknown> | null;
  again: Promise<unknown> | null;
  timer: NodeJS.Timeout | undefined;
  signature: string;
}

/** The one watcher of the reloadable files: add each source, then start() it; stop() on shutdown. */
export class FileWatcher {
  private readonly entries: Entry[] = [];
  private readonly watchers = new Map<string, FSWatcher>();
  private poller: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private readonly onSighup = (): void => {
    const names = this.entries.map((e) => e.source.name);
    this.options.logger.info({ sources: names }, `SIGHUP: reloading ${names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}` : (names[0] ?? 'nothing')}`);
    for (const entry of this.entries) {
      void this.run(entry, 'SIGHUP');
    }
  };

  constructor(private readonly options: FileWatcherOptions) {}

  /** Registers a source (before or after start). */
  add<R>(source: WatchedSource<R>): Reloader<R> {
    const entry: Entry = { source: source as WatchedSource, running: null, again: null, timer: undefined, signature: '' };
    this.entries.push(entry);
    void this.signatureOf(entry).then((s) => {
      entry.signature = s;
    });
    if (this.started) {
      this.watchFolders(entry);
    }
    return {
      reload: (reason) => {
        clearTimeout(entry.timer);
        return this.run(entry, reason) as Promise<R>;
      },
      settled: () => settle(entry),
    };
  }

  /** Starts watching (when on) and listening for SIGHUP. */
  start(): void {
    if (this.started) {
      return;
    }
    this.started = true;
    this.options.signals?.on('SIGHUP', this.onSighup);
    if (!this.options.watch) {
      return;
    }
    for (const entry of this.entries) {
      this.watchFolders(entry);
    }
    const pollMs = this.options.pollMs ?? 5000;
    if (pollMs > 0) {
      this.poller = setInterval(() => void this.poll(), pollMs);
      this.poller.unref();
    }
  }

  /** Stops watching and forgets SIGHUP; a reload that is running finishes (and logs) first. */
  async stop(): Promise<void> {
    this.closed = true;
    this.options.signals?.off('SIGHUP', this.onSighup);
    clearInterval(this.poller);
    for (const w of this.watchers.values()) {
      w.close();
    }
    this.watchers.clear();
    for (const entry of this.entries) {
      clearTimeout(entry.timer);
    }
    await Promise.all(this.entries.map((e) => settle(e)));
  }

  private run(entry: Entry, reason: string): Promise<unknown> {
    if (entry.running) {
      // One more after the running one, whatever the number of changes meanwhile.
      entry.again ??= entry.running.catch(() => undefined).then(() => {
        entry.again = null;
        return this.run(entry, 'changed during reload');
      });
      return entry.again;
    }
    this.options.logger.debug({ source: entry.source.name, reason }, 'configuration reload');
    entry.running = (async (): Promise<unknown> => {
      let result: unknown;
      try {
        result = await entry.source.reload(reason);
      } catch (err) {
        // Not bad content (the source reports that) but e.g. an unreadable folder: what is live stays.
        this.options.logger.error({ source: entry.source.name, err: { code: errorCode(err), msg: (err as Error).message } }, `${entry.source.name} reload failed`);
        throw err;
      } finally {
        entry.signature = await this.signatureOf(entry);
        if (this.started && this.options.watch) {
          this.watchFolders(entry);
        }
      }
      entry.source.onReload?.(result);
      return result;
    })().finally(() => {
      entry.running = null;
    });
    return entry.running;
  }

  private schedule(entry: Entry, reason: string): void {
    if (this.closed) {
      return;
    }
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.run(entry, reason).catch(() => undefined), this.options.debounceMs ?? 150);
    entry.timer.unref();
  }

  private watchFolders(entry: Entry): void {
    if (this.closed) {
      return;
    }
    for (const folder of entry.source.folders()) {
      const key = `${entry.source.name}\u0000${folder.dir}`;
      if (this.watchers.has(key)) {
        continue;
      }
      try {
        const w = watch(folder.dir, { persistent: false }, (_event, name) => {
          if (folder.accept(name === null ? null : String(name))) {
            this.schedule(entry, `change in ${folder.dir}`);
          }
        });
        w.on('error', () => {
          w.close();
          this.watchers.delete(key);
          this.schedule(entry, `watch of ${folder.dir} ended`);
        });
        this.watchers.set(key, w);
      } catch {
        // No such folder yet: the poll notices when it appears, and the next reload watches it.
      }
    }
  }

  private async poll(): Promise<void> {
    for (const entry of this.entries) {
      const s = await this.signatureOf(entry);
      if (s !== entry.signature && !entry.running && !this.closed) {
        this.schedule(entry, 'files changed (poll)');
      }
    }
  }

  private async signatureOf(entry: Entry): Promise<string> {
    const files = (await entry.source.files()).sort();
    const parts = await Promise.all(
      files.map(async (f) => {
        try {
          const s = await stat(f);
          return `${f}:${s.size}:${s.mtimeMs}`;
        } catch {
          return `${f}:-`;
        }
      }),
    );
    return parts.join('|');
  }
}

async function settle(entry: Entry): Promise<void> {
  while (entry.running || entry.again) {
    await (entry.again ?? entry.running)?.catch(() => undefined);
  }
}

/** The folder of one file, accepting only that file (and a ConfigMap's ..data swap). */
export function folderOf(file: string): WatchedFolder {
  const name = basename(file);
  return { dir: dirname(resolve(file)), accept: (entry) => entry === null || entry === name || entry.startsWith('..') };
}

/** The files of a folder (none when it is missing): for a source's files(). */
export async function filesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** One configuration file whose last good content stays live: what it holds now, and the problem while it is invalid. */
export interface ReloadableFile<T> extends WatchedSource<boolean> {
  /** What the file held at its last good load. */
  current(): T;
  /** The problem while the file on disk is invalid (null once a valid file replaces it). */
  problem(): string | null;
}

export interface ReloadableFileOptions<T> {
  /** "keys file", "staff file": in log lines. */
  name: string;
  file: string;
  /** What start-up loaded. */
  initial: T;
  /** Reads and checks the file; throws CONFIG_INVALID (with findings) when it is invalid. */
  load(): Promise<T>;
  logger: Logger;
  /** What the refusal says stays ("the last good keys stay live"; default: the last good <name> stays live). */
  kept?: string;
  /** The "reloaded" log line (default: "<name> reloaded"). */
  loaded?: string;
  /** Fields for the "reloaded" log line. */
  describe(value: T): Record<string, unknown>;
  /** Called with each good load (e.g. to swap a key ring). */
  onLoaded?(value: T): void;
  /**
   * Called when the file is invalid, before the problem is logged: what is done about it
   * anyway (e.g. the revocations a broken keys file holds), in words for the problem line.
   */
  onInvalid?(err: AppError): Promise<string>;
}

/**
 * A configuration file that reloads as a FileWatcher source: a valid file replaces what is
 * live; an invalid one keeps the last good content live, logs every finding at file:line:col
 * and keeps the problem (for /readyz) until a valid file replaces it.
 */
export function reloadableFile<T>(options: ReloadableFileOptions<T>): ReloadableFile<T> {
  const file = resolve(options.file);
  let value = options.initial;
  let problem: string | null = null;
  return {
    name: options.name,
    folders: () => [folderOf(file)],
    files: async () => [file],
    current: () => value,
    problem: () => problem,
    async reload() {
      try {
        value = await options.load();
        problem = null;
        options.onLoaded?.(value);
        options.logger.info(options.describe(value), options.loaded ?? `${options.name} reloaded`);
        return true;
      } catch (err) {
        if (!isAppError(err)) {
          throw err;
        }
        const also = (await options.onInvalid?.(err)) ?? '';
        const first = err.findings[0];
        const kept = options.kept ?? `the last good ${options.name} stays live`;
        problem = `${options.name} ${first ? `${first.file}:${first.line}:${first.col}: ${first.message}` : err.message}; ${kept}${also}`;
        options.logger.error({ findings: err.findings.length }, `${options.name} reload refused: ${kept}${also}\n${formatFindings(err.findings)}`);
        return false;
      }
    },
  };
}
