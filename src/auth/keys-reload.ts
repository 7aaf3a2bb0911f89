import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { formatFindings, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadKeysFile } from './api-keys-file.js';
import type { KeyRing } from './key-ring.js';

export interface KeysReloadOptions {
  file: string;
  ring: KeyRing;
  logger: Logger;
  production: boolean;
  /** Watch the file (WATCH_RULES, like the clinics file); SIGHUP reloads either way. */
  watch: boolean;
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  pollMs?: number;
}

export interface KeysReloadHandle {
  reload(): Promise<boolean>;
  close(): void;
}

/**
 * Keeps the key ring in step with KEYS_FILE, as the clinics file is kept: on change (a
 * folder watch, backed by a size/time poll) and on SIGHUP. An invalid file keeps the last
 * good keys live and is logged with file:line:col, so a bad edit never locks staff out
 * and a revocation takes effect as soon as the file is saved.
 */
export function startKeysReload(options: KeysReloadOptions): KeysReloadHandle {
  const file = resolve(options.file);
  let signature = '';
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | null = null;

  const reload = (): Promise<boolean> => {
    running ??= (async (): Promise<boolean> => {
      signature = await fileSignature(file);
      try {
        const { keys, missing } = await loadKeysFile(file, { production: options.production });
        options.ring.swap(keys);
        options.logger.info({ keys: keys.length, missing }, 'staff API keys reloaded');
        return true;
      } catch (err) {
        if (!isAppError(err)) {
          throw err;
        }
        options.logger.error({ findings: err.findings.length }, `keys reload refused: the last good keys stay live\n${formatFindings(err.findings)}`);
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
