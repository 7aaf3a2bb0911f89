import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { exportCommand, exportRecords, parseRange, recordToCsvRow, CSV_COLUMNS } from '../../src/cli/commands/export.js';
import type { MessageRecord } from '../../src/domain.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { handleMessage } from '../../src/service/handle-message.js';
import { SpoolReplayer } from '../../src/spool/replayer.js';
import { Spool } from '../../src/spool/spool.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { getTestMongo, openTestMongoStore } from '../support/mongo.js';
import { WEBHOOK_PATH, addPatient, closingTestApps, inboundParams, signedRequest, uniquePhone, type TestApp } from '../support/test-app.js';
import { conversationRouting } from '../../src/conversations/staff-routing.js';

/** The embedded store with switches for the failures the audit trail must survive. */
class FaultyStore extends MemoryStore {
  down = false;
  brokenRules = false;
  override async ping(): Promise<void> {
    if (this.down) {
      throw new AppError('STORE_UNAVAILABLE', 'down');
    }
  }
  override async claimMessage(record: MessageRecord): ReturnType<MemoryStore['claimMessage']> {
    if (this.down) {
      throw new AppError('STORE_UNAVAILABLE', 'down');
    }
    return super.claimMessage(record);
  }
  override async touchSender(...args: Parameters<MemoryStore['touchSender']>): ReturnType<MemoryStore['touchSender']> {
    if (this.brokenRules) {
      throw new AppError('STORE_ERROR', 'query failed');
    }
    return super.touchSender(...args);
  }
}

function post(t: TestApp, params: Record<string, string>, token?: string): request.Test {
  const { body, signature } = signedRequest(params, token ? { token } : {});
  return request(t.app.callback()).post(WEBHOOK_PATH).type('form').set('X-Twilio-Signature', signature).send(body);
}

const TIMED = ['receivedAt', 'completedAt'] as const;

describe('audit trail', () => {
  const buildTestApp = closingTestApps();
  let dir: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'clinic-sms-audit-'));
  });

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('when requests of every kind pass the signature check, then each ends in exactly one complete record', async () => {
    const store = new FaultyStore();
    const spool = await Spool.open({ dir, logger: createLogger('silent') });
    const sink = {
      async append(...args: Parameters<Spool['append']>): Promise<void> {
        await spool.append(...args);
      },
    };
    const t = await buildTestApp({ store, spool: sink, readySpool: spool });
    const known = uniquePhone();
    const patient = await addPatient(t.store, { phone: known, firstName: 'Ana' }, [{ startsAt: new Date(Date.now() + 86_400_000) }]);
    const stranger = uniquePhone();
    const flooder = uniquePhone();
    await addPatient(t.store, { phone: flooder });

    const sent: Record<string, Record<string, string>> = {
      confirm: inboundParams({ From: known, Body: 'CONFIRM' }),
      photo: inboundParams({ From: known, Body: 'rash photo', NumMedia: '2', MediaUrl0: 'https://api.twilio.com/m/ME1', MediaContentType0: 'image/jpeg', MediaUrl1: 'https://api.twilio.com/m/ME2', MediaContentType1: 'image/png' }),
      unknown: inboundParams({ From: stranger, Body: 'who is this' }),
      noClinic: inboundParams({ From: stranger, To: '+13125559999', Body: 'hello' }),
    };
    for (const params of Object.values(sent)) {
      expect((await post(t, params)).status).to.equal(200);
    }
    const repeat = await post(t, sent.confirm as Record<string, string>);
    expect(repeat.status).to.equal(200);
    for (let i = 0; i < 6; i += 1) {
      sent[`flood${i}`] = inboundParams({ From: flooder, Body: `hi ${i}` });
      await post(t, sent[`flood${i}`] as Record<string, string>);
    }
    store.brokenRules = true;
    sent.error = inboundParams({ From: known, Body: 'hello' });
    await post(t, sent.error);
    store.brokenRules = false;
    store.down = true;
    sent.outage = inboundParams({ From: known, Body: 'STOP' });
    expect((await post(t, sent.outage)).text).to.contain('technical difficulties');
    store.down = false;
    const pipeline = { store, staff: conversationRouting(t.conversations), logger: createLogger('silent'), metrics: t.metrics, clock: () => new Date() };
    await new SpoolReplayer({ ...pipeline, spool, replay: (message, at) => handleMessage(pipeline, t.live.snapshot(), message, 'replay', at) }).replayNow();

    const bySid = new Map<string, MessageRecord>();
    for (const clinicId of ['downtown', 'northside']) {
      for await (const r of t.store.listMessages({ clinicId, since: new Date(0), until: new Date(Date.now() + 60_000) })) {
        expect(bySid.has(r.messageSid)).to.equal(false);
        bySid.set(r.messageSid, r);
      }
    }
    const rejected = await t.store.getMessage(sent.noClinic?.MessageSid as string);
    expect(rejected).to.include({ status: 'rejected', clinicId: null, error: 'unknown-clinic' });
    expect(bySid.size).to.equal(Object.keys(sent).length - 1);

    const status = (key: string): string | undefined => bySid.get(sent[key]?.MessageSid as string)?.status;
    expect(status('confirm')).to.equal('processed');
    expect(status('photo')).to.equal('processed');
    expect(status('unknown')).to.equal('unknown-number');
    expect(['flood0', 'flood1', 'flood2', 'flood3', 'flood4', 'flood5'].map(status)).to.deep.equal([...Array(5).fill('processed'), 'rate-limited']);
    expect(status('error')).to.equal('error');
    expect(status('outage')).to.equal('replayed');

    const confirm = bySid.get(sent.confirm?.MessageSid as string) as MessageRecord;
    expect(confirm).to.include({ clinicId: 'downtown', via: 'webhook', duplicateDeliveries: 1 });
    expect(confirm.patientIds).to.deep.equal([patient.id]);
    expect(confirm.rulesFired).to.deep.equal(['confirm-appointment']);
    expect(confirm.actions).to.deep.equal([{ type: 'confirm-appointment', outcome: 'confirmed', ruleName: 'confirm-appointment', detail: confirm.actions[0]?.detail }]);
    expect(confirm.reply).to.contain('is confirmed');
    expect(confirm.message).to.include({ from: known, to: '+13125550100', body: 'CONFIRM', messageSid: sent.confirm?.MessageSid });
    expect(confirm.timings).to.have.keys(['totalMs', 'storeMs', 'rulesMs']);
    const photo = bySid.get(sent.photo?.MessageSid as string) as MessageRecord;
    expect(photo.message.media).to.deep.equal([
      { url: 'https://api.twilio.com/m/ME1', contentType: 'image/jpeg' },
      { url: 'https://api.twilio.com/m/ME2', contentType: 'image/png' },
    ]);
    // The claim never reached the database during the outage: the replay made the record.
    expect(bySid.get(sent.outage?.MessageSid as string)).to.include({ via: 'replay', reply: null });
    expect(bySid.get(sent.outage?.MessageSid as string)?.actions.map((a) => a.type)).to.deep.equal(['opt-out']);
    for (const record of [...bySid.values(), rejected as MessageRecord]) {
      for (const key of TIMED) {
        expect(record[key], `${record.status} ${key}`).to.be.instanceOf(Date);
      }
      expect(record.timings?.totalMs, `${record.status} timings`).to.be.a('number');
      expect(record.status).to.not.equal('received');
    }
  });

  it('when a signature is wrong or missing, then the request is counted and logged without PHI, and nothing is stored', async () => {
    const t = await buildTestApp();
    const phone = uniquePhone();
    const forged = inboundParams({ From: phone, Body: 'secret-body-xyzzy' });
    const unsigned = inboundParams({ From: phone, Body: 'secret-body-xyzzy' });

    const bad = await post(t, forged, 'not-the-token');
    const missing = await request(t.app.callback()).post(WEBHOOK_PATH).type('form').send(new URLSearchParams(unsigned).toString());

    expect(bad.status).to.equal(403);
    expect(missing.status).to.equal(400);
    expect(await t.store.getMessage(forged.MessageSid as string)).to.equal(null);
    expect(await t.store.getMessage(unsigned.MessageSid as string)).to.equal(null);
    const metric = await t.metrics.registry.getSingleMetricAsString('sms_signature_failures_total');
    expect(metric).to.contain('{reason="invalid"} 1');
    expect(metric).to.contain('{reason="missing"} 1');
    expect(t.logs.text()).to.not.contain('xyzzy');
    expect(t.logs.text()).to.not.contain(phone.slice(2));
    expect(t.logs.records().some((r) => r.status === 403)).to.equal(true);
  });

  describe('export for compliance requests', () => {
    const buildTestApp = closingTestApps();
    it('when records are exported as CSV, then every record is one row with a header, quoted safely', async () => {
      const t = await buildTestApp();
      const phone = uniquePhone();
      await addPatient(t.store, { phone });
      const a = inboundParams({ From: phone, Body: 'line one\nline "two", =HYPERLINK("x")' });
      const b = inboundParams({ From: phone, Body: '=1+1' });
      await post(t, a);
      await post(t, b);

      const lines: string[] = [];
      const n = await exportRecords(t.store, { clinicId: 'downtown', since: new Date(Date.now() - 60_000), until: new Date(Date.now() + 60_000) }, 'csv', (l) => {
        lines.push(l);
      });

      expect(n).to.equal(2);
      expect(lines[0]).to.equal(CSV_COLUMNS.join(','));
      const text = lines.join('\n');
      expect(text).to.contain(`"line one\nline ""two"", =HYPERLINK(""x"")"`);
      expect(text).to.contain(",'=1+1,");
      expect(text).to.contain(`,${phone},+13125550100,`);
      expect(lines[1]).to.match(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z,\d{4}-/);
    });

    it('when records are exported as JSON lines, then each line is one whole record', async () => {
      const t = await buildTestApp();
      const params = inboundParams({ From: uniquePhone(), Body: 'HELP' });
      await post(t, params);
      const lines: string[] = [];
      await exportRecords(t.store, { clinicId: 'downtown', since: new Date(0), until: new Date(Date.now() + 60_000) }, 'jsonl', (l) => {
        lines.push(l);
      });
      const mine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.messageSid === params.MessageSid);
      expect(mine).to.have.length(1);
      expect(mine[0]).to.include({ status: 'unknown-number', clinicId: 'downtown', via: 'webhook' });
      expect(mine[0]?.rulesFired).to.deep.equal(['help']);
    });

    it('when dates are days, then they are the clinic\'s local days and --until includes its whole day', () => {
      const r = parseRange('2026-03-01', '2026-03-31', 'America/Chicago');
      expect(r.since.toISOString()).to.equal('2026-03-01T06:00:00.000Z');
      // DST starts on March 8 in Chicago: April 1 begins at 05:00 UTC.
      expect(r.until.toISOString()).to.equal('2026-04-01T05:00:00.000Z');
      const stamps = parseRange('2026-03-01T00:00:00Z', '2026-03-02T12:30:00+02:00', 'America/Chicago');
      expect(stamps.until.toISOString()).to.equal('2026-03-02T10:30:00.000Z');
      expect(() => parseRange('2026-02-30', '2026-03-01', 'UTC')).to.throw(/not a calendar day/);
      expect(() => parseRange('yesterday', '2026-03-01', 'UTC')).to.throw(/--since/);
      expect(() => parseRange('2026-03-02', '2026-03-01', 'UTC')).to.throw(/after/);
    });

    it('when a body starts with + or - but is not a number, then the CSV cell is neutralized; phone numbers are not', () => {
      const record: MessageRecord = {
        messageSid: `SM${randomBytes(16).toString('hex')}`,
        clinicId: 'downtown',
        message: { messageSid: 'x', from: '+13125550134', to: '+13125550100', body: "+cmd|' /C calc'!A0", numMedia: 0, media: [], extra: {} },
        receivedAt: new Date(),
        status: 'processed',
        patientIds: [],
        rulesFired: [],
        actions: [],
        reply: '-5',
        via: 'webhook',
      };
      const row = recordToCsvRow(record);
      expect(row).to.contain(`,'+cmd|' /C calc'!A0,`);
      expect(row).to.contain(',+13125550134,');
      expect(row).to.contain(',-5,');
    });

    it('when `clinic-sms export` runs against MongoDB, then it writes the clinic\'s records to a 0600 file and only a PHI-free summary to stderr', async function () {
      const server = await getTestMongo();
      if (!server) {
        this.skip();
      }
      const db = await openTestMongoStore(server, { label: 'export' });
      try {
        const t = await buildTestApp({ store: db.store });
        const phone = uniquePhone();
        await addPatient(t.store, { phone });
        const params = inboundParams({ From: phone, Body: 'please call me' });
        await post(t, params);
        const out = path.join(dir, 'export.csv');
        const errs: string[] = [];
        const outs: string[] = [];
        const io = { env: { MONGODB_URI: db.uri, CLINICS_FILE: 'test/fixtures/clinics.yaml' }, cwd: process.cwd(), out: (l: string) => outs.push(l), err: (l: string) => errs.push(l) };
        const day = new Date().toISOString().slice(0, 10);
        const since = new Date(Date.now() - 86_400_000 * 2).toISOString().slice(0, 10);

        const code = await exportCommand(['--clinic', 'downtown', '--since', since, '--until', day, '--out', out], io);

        expect(code, errs.join('\n')).to.equal(0);
        const text = await fs.readFile(out, 'utf8');
        expect(text.trim().split('\n')).to.have.length(2);
        expect(text).to.contain(params.MessageSid);
        expect(text).to.contain('please call me');
        expect((await fs.stat(out)).mode & 0o777).to.equal(0o600);
        expect(outs).to.deep.equal([]);
        expect(errs.join('\n')).to.match(/exported 1 record\(s\) of clinic downtown/);
        expect(errs.join('\n')).to.not.contain(phone.slice(2));
        expect(await exportCommand(['--clinic', 'downtown', '--since', since, '--until', day, '--out', out], io).catch((e: Error) => e.message)).to.match(/EEXIST/);
      } finally {
        await db.dispose();
      }
    });

    it('when an option is missing or unknown, then it exits 2 with the usage', async () => {
      const errs: string[] = [];
      const io = { env: {}, cwd: process.cwd(), out: () => undefined, err: (l: string) => errs.push(l) };
      expect(await exportCommand(['--clinic', 'downtown'], io)).to.equal(2);
      expect(errs[0]).to.equal('error: --since is required');
      expect(await exportCommand(['--clinic', 'downtown', '--since', '2026-01-01', '--until', '2026-01-02', '--bogus', 'x'], io)).to.equal(2);
    });
  });
});
