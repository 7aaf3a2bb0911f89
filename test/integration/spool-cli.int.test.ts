import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { spool as spoolCommand } from '../../src/cli/commands/spool.js';
import type { CliIO } from '../../src/cli/io.js';
import type { InboundMessage } from '../../src/domain.js';
import { createLogger } from '../../src/logger.js';
import { Spool } from '../../src/spool/spool.js';
import { getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { uniquePhone } from '../support/test-app.js';
import { FIXTURE_RULES_DIR } from '../support/fixture-rules.js';

function capture(env: Record<string, string>): CliIO & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return { env, cwd: process.cwd(), out: (l) => outs.push(l), err: (l) => errs.push(l), outs, errs };
}

const message = (from: string, body: string): InboundMessage => ({
  messageSid: `SM${randomBytes(16).toString('hex')}`,
  from,
  to: '+13125550100',
  body,
  numMedia: 0,
  media: [],
  extra: {},
});

describe('clinic-sms spool', () => {
  let dir: string;
  const baseEnv = (): Record<string, string> => ({
    SPOOL_DIR: dir,
    CLINICS_FILE: 'test/fixtures/clinics.yaml',
    RULES_DIR: FIXTURE_RULES_DIR,
    TWILIO_AUTH_TOKEN: 'test-token',
    NORTHSIDE_AUTH_TOKEN: 'northside-token',
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-spool-cli-'));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when `spool status` runs, then it lists each waiting message with its clinic and a masked sender, and the quarantined files', async () => {
    const phone = uniquePhone();
    const s = await Spool.open({ dir, logger: createLogger('silent') });
    const m = message(phone, 'STOP secret-xyzzy');
    await s.append(m, new Date('2026-03-01T10:00:00Z'));
    await fs.writeFile(path.join(dir, 'torn.json'), '{"payload":');
    const io = capture(baseEnv());

    expect(await spoolCommand(['status'], io)).to.equal(0);

    expect(io.outs[0]).to.match(/: 1 message\(s\) waiting, 1 quarantined file\(s\)$/);
    expect(io.outs[1]).to.equal(`  2026-03-01T10:00:00.000Z  ${m.messageSid}  downtown  from ***${phone.slice(-2)}`);
    expect(io.outs.join('\n')).to.match(/torn\.json\./);
    expect([...io.outs, ...io.errs].join('\n')).to.not.contain(phone.slice(2)).and.not.contain('xyzzy');
  });

  it('when `spool replay` runs without MONGODB_URI, then it refuses (exit 2) and the spool is untouched', async () => {
    const s = await Spool.open({ dir, logger: createLogger('silent') });
    await s.append(message(uniquePhone(), 'STOP'), new Date());
    const io = capture(baseEnv());
    expect(await spoolCommand(['replay'], io)).to.equal(2);
    expect(io.errs[0]).to.contain('MONGODB_URI is not set');
    expect((await Spool.open({ dir, logger: createLogger('silent') })).depth()).to.equal(1);
  });

  it('when `spool replay` runs against MongoDB, then every message is replayed and the spool is empty (exit 0); again, nothing is left to do', async function () {
    const server = await getTestMongo();
    if (!server) {
      this.skip();
    }
    const db = await openTestMongoStore(server, { label: 'spoolcli' });
    try {
      const phone = uniquePhone();
      const s = await Spool.open({ dir, logger: createLogger('silent') });
      const stop = message(phone, 'STOP');
      const hello = message(uniquePhone(), 'hello');
      await s.append(stop, new Date(Date.now() - 5000));
      await s.append(hello, new Date(Date.now() - 4000));
      const io = capture({ ...baseEnv(), MONGODB_URI: db.uri });

      expect(await spoolCommand(['replay'], io), io.errs.join('\n')).to.equal(0);

      expect(io.outs[0]).to.match(/^replayed 2 of 2 message\(s\) in \d+ ms; 0 failed, 0 left in the spool$/);
      expect((await db.store.getMessage(stop.messageSid))?.status).to.equal('replayed');
      expect((await db.store.getMessage(hello.messageSid))?.status).to.equal('replayed');
      expect((await db.store.getOptOut('downtown', phone))?.optedOut).to.equal(true);
      const again = capture({ ...baseEnv(), MONGODB_URI: db.uri });
      expect(await spoolCommand(['replay'], again)).to.equal(0);
      expect(again.outs[0]).to.match(/^replayed 0 of 0/);
    } finally {
      await db.dispose();
    }
  });

  it('when `spool replay` cannot reach MongoDB, then it says so, exits 1 and keeps every message', async function () {
    this.timeout(20_000);
    const s = await Spool.open({ dir, logger: createLogger('silent') });
    await s.append(message(uniquePhone(), 'STOP'), new Date());
    // A port nothing listens on: the connection is refused.
    const io = capture({ ...baseEnv(), MONGODB_URI: 'mongodb://127.0.0.1:9/clinic-sms' });
    expect(await spoolCommand(['replay'], io)).to.equal(1);
    expect(io.errs.join('\n')).to.contain('cannot reach MongoDB');
    expect((await Spool.open({ dir, logger: createLogger('silent') })).depth()).to.equal(1);
  });

  it('when the subcommand is unknown, then it prints the usage and exits 2', async () => {
    const io = capture(baseEnv());
    expect(await spoolCommand(['flush'], io)).to.equal(2);
    expect(io.errs[0]).to.match(/^usage: clinic-sms spool status/);
  });
});
