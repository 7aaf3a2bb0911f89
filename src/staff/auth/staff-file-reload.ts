import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { formatFindings, isAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { loadStaffFile, type StaffDirectory } from './staff-file.js';

export interface StaffFileReloadOptions {
  file: string;
  /** The directory in force (start-up loaded it). */
  initial: StaffDirectory;
  logger: Logger;
  /** Watch the file (WATCH_RULES, like the clinics and keys files); SIGHUP reloads either way. */
  watch: boolean;
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  pollMs?: number;
}

export interface StaffFileHandle {
  /** The directory in force now. */
  current(): StaffDirectory;
  reload(): Promise<boolean>;
  close(): void;
}

/**
 * Keeps the staff directory in step with STAFF_FILE, as the keys file is kept
 * (src/auth/keys-reload.ts): on change (a folder watch backed by a size/time poll) and on
 * SIGHUP. An invalid file keeps the last good directory live and is logged with
 * file:line:col; a person removed from the file loses access at their next request.
 */
export function startStaffFileReload(options: StaffFileReloadOptions): StaffFileHandle {
  const file = resolve(options.file);
  let directory = options.initial;
  let signature = '';
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | null = null;

  const reload = (): Promise<boolean> => {
    running ??= (async (): Promise<boolean> => {
      signature = await fileSignature(file);
      try {
        const loaded = await loadStaffFile(file);
        directory = loaded.directory;
        options.logger.info({ entries: loaded.directory.entries.length, missing: loaded.missing }, 'staff file reloaded');
        return true;
      } catch (err) {
        if (!isAppError(err)) {
          throw err;
        }
        options.logger.error({ findings: err.findings.length }, `staff file reload refused: the last good staff list stays live\n${formatFindings(err.findings)}`);
        return false;
      }
    })().finally(() => {
      running = null;
    });
    return running;
  };
  const onSighup = (): void => void reload();

  void fileSignature(file).then((s) => {
    signature = s;
  });
  if (options.watch) {
    try {
      watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || String(name) === basename(file) || String(name).startsWith('..')) {
          void reload();
        }
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // No folder yet: the poll notices when the file appears.
    }
    poller = setInterval(() => {
      void fileSignature(file).then((s) => {
        if (s !== signature && !running) {
          void reload();
        }
      });
    }, options.pollMs ?? 5000);
    poller.unref();
  }
  options.signals?.on('SIGHUP', onSighup);
  return {
    current: () => directory,
    reload,
    close() {
      options.signals?.off('SIGHUP', onSighup);
      watcher?.close();
      clearInterval(poller);
    },
  };
}

async function fileSignature(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return '-';
  }
}
