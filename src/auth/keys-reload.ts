import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import { formatFindings, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadKeysFile, revocationsIn } from './api-keys-file.js';
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
  /** Where sms_keys_file_valid and sms_keys_reload_failures_total are registered. */
  registry?: Registry;
}

export interface KeysReloadHandle {
  reload(): Promise<boolean>;
  /** For /readyz: the keys file's state, and the reload problem while there is one (a readiness check's result). */
  status(): { details: { keysFile: string }; degraded: string[] };
  close(): void;
}

/**
 * Keeps the key ring in step with KEYS_FILE, as the clinics file is kept: on change (a
 * folder watch, backed by a size/time poll) and on SIGHUP. An invalid file keeps the last
 * good keys live (a bad edit never locks staff out), but every revocation the broken file
 * holds is applied to them at once (read line by line: revocationsIn), so a revocation
 * written into a broken file still takes effect. The problem is logged with file:line:col,
 * shown on /readyz (status()) and counted (sms_keys_file_valid 0,
 * sms_keys_reload_failures_total) until a valid file replaces it.
 */
export function startKeysReload(options: KeysReloadOptions): KeysReloadHandle {
  const file = resolve(options.file);
  let signature = '';
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | null = null;
  let problem: string | null = null;
  const valid = new Gauge({ name: 'sms_keys_file_valid', help: '1 when the last KEYS_FILE reload succeeded; 0 while the file is invalid (the last good keys serve, with its revocations applied)', registers: options.registry ? [options.registry] : [] });
  const failures = new Counter({ name: 'sms_keys_reload_failures_total', help: 'KEYS_FILE reloads refused because the file is invalid', registers: options.registry ? [options.registry] : [] });
  valid.set(1);

  const reload = (): Promise<boolean> => {
    running ??= (async (): Promise<boolean> => {
      signature = await fileSignature(file);
      try {
        const { keys, missing } = await loadKeysFile(file, { production: options.production });
        options.ring.swap(keys);
        problem = null;
        valid.set(1);
        options.logger.info({ keys: keys.length, missing }, 'staff API keys reloaded');
        return true;
      } catch (err) {
        if (!isAppError(err)) {
          throw err;
        }
        const revoked = revocationsIn(await readFile(file, 'utf8').catch(() => ''));
        options.ring.revoke(revoked);
        const first = err.findings[0];
        const where = first ? `${first.file}:${first.line}:${first.col}: ${first.message}` : err.message;
        problem = `keys file ${where}; the last good keys stay live, with the revocations the file holds applied (${revoked.length === 0 ? 'none' : revoked.join(', ')})`;
        valid.set(0);
        failures.inc();
        options.logger.error({ findings: err.findings.length, revoked }, `keys reload refused: the last good keys stay live, revocations applied\n${formatFindings(err.findings)}`);
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
    status: () => ({ details: { keysFile: problem === null ? 'ok' : 'invalid' }, degraded: problem === null ? [] : [problem] }),
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
