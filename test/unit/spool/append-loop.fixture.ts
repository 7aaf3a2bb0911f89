/**
 * Child process for the crash test: appends messages to the spool in SPOOL_DIR as fast
 * as it can and prints each MessageSid once append() has resolved (the webhook would
 * answer only then). The parent SIGKILLs it mid-stream.
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../../src/logger.js';
import { Spool } from '../../../src/spool/spool.js';

const spool = await Spool.open({ dir: process.env.SPOOL_DIR as string, logger: createLogger('silent') });
for (;;) {
  const messageSid = `SM${randomBytes(16).toString('hex')}`;
  await spool.append(
    { messageSid, from: '+13125550134', to: '+13125550100', body: 'STOP'.padEnd(1500, '.'), numMedia: 0, media: [], extra: {} },
    new Date(),
  );
  process.stdout.write(`${messageSid}\n`);
}
