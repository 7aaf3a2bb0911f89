import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import { reloadableFile, type ReloadableFile } from '../config/file-watch.js';
import type { Logger } from '../logger.js';
import { loadKeysFile, revocationsIn } from './api-keys-file.js';
import type { ApiKey } from './api-key.js';
import type { KeyRing } from './key-ring.js';

export interface KeysFileOptions {
  file: string;
  ring: KeyRing;
  logger: Logger;
  production: boolean;
  /** The keys start-up loaded. */
  initial?: ApiKey[];
  /** Where sms_keys_file_valid and sms_keys_reload_failures_total are registered. */
  registry?: Registry;
}

export interface KeysFile extends ReloadableFile<ApiKey[]> {
  /** For /readyz: the keys file's state, and the reload problem while there is one (a readiness check's result). */
  status(): { details: { keysFile: string }; degraded: string[] };
}

/**
 * KEYS_FILE as a source of the one file watcher (config/file-watch.ts), which reloads it on
 * change and on SIGHUP. An invalid file keeps the last good keys live (a bad edit never locks
 * staff out), but every revocation the broken file holds is applied to them at once (read
 * line by line: revocationsIn), so a revocation written into a broken file still takes
 * effect. The problem is logged with file:line:col, shown on /readyz (status()) and counted
 * (sms_keys_file_valid 0, sms_keys_reload_failures_total) until a valid file replaces it.
 */
export function keysFile(options: KeysFileOptions): KeysFile {
  const registers = options.registry ? [options.registry] : [];
  const valid = new Gauge({ name: 'sms_keys_file_valid', help: '1 when the last KEYS_FILE reload succeeded; 0 while the file is invalid (the last good keys serve, with its revocations applied)', registers });
  const failures = new Counter({ name: 'sms_keys_reload_failures_total', help: 'KEYS_FILE reloads refused because the file is invalid', registers });
  valid.set(1);
  let missing = false;
  const file = reloadableFile<ApiKey[]>({
    name: 'keys file',
    file: options.file,
    initial: options.initial ?? [],
    logger: options.logger,
    kept: 'the last good keys stay live',
    loaded: 'staff API keys reloaded',
    load: async () => {
      const loaded = await loadKeysFile(options.file, { production: options.production });
      missing = loaded.missing;
      return loaded.keys;
    },
    describe: (keys) => ({ keys: keys.length, missing }),
    onLoaded: (keys) => {
      options.ring.swap(keys);
      valid.set(1);
    },
    onInvalid: async () => {
      const revoked = revocationsIn(await readFile(options.file, 'utf8').catch(() => ''));
      options.ring.revoke(revoked);
      valid.set(0);
      failures.inc();
      return `, with the revocations the file holds applied (${revoked.length === 0 ? 'none' : revoked.join(', ')})`;
    },
  });
  return {
    ...file,
    status: () => {
      const problem = file.problem();
      return { details: { keysFile: problem === null ? 'ok' : 'invalid' }, degraded: problem === null ? [] : [problem] };
    },
  };
}
