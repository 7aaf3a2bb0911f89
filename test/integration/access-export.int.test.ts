import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { renderKeysFile } from '../../src/auth/api-keys-file.js';
import { ACCESS_CSV_COLUMNS, exportAccessRecords } from '../../src/cli/commands/export-access.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import { newId } from '../../src/conversations/conversation-service.js';
import { getTestMongo, uriWithDb } from '../support/mongo.js';
import { STAFF_STORE_KINDS, buildStaffApp, type StaffTestApp } from '../support/staff-app.js';

const BASE = '/v1/clinics/downtown/conversations';

for (const kind of STAFF_STORE_KINDS) {
  describe(`clinic-sms export --access (${kind.name})`, function () {
    let t: StaffTestApp;
    let dbName: string;
    let dir: string;

    before(async function () {
      const made = await kind.make();
      if (!made) {
        this.skip();
      }
      dbName = made.dbName;
      t = await buildStaffApp(made);
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'access-export-'));
    });

    after(async () => {
      await t?.dispose();
      if (dir) {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    /** Four requests by two keys of downtown and one of northside, refusals among them. */
    async function someRequests(): Promise<{ since: Date; until: Date; readerId: string; missing: string }> {
      const since = new Date();
      const reader = t.key('downtown', ['conversations:read']);
      const northside = t.key('northside', ['conversations:read']);
      const missing = newId('cv');
      await request(t.app.callback()).get(BASE).set('Authorization', `Bearer ${reader}`).expect(200);
      await request(t.app.callback()).get(`${BASE}/${missing}`).set('Authorization', `Bearer ${reader}`).expect(404);
      await request(t.app.callback()).get(BASE).set('Authorization', 'Bearer csk.nobody.xxxxxxxxxxxxxxxxxxxxxxxx').expect(401);
      await request(t.app.callback()).get('/v1/clinics/northside/conversations').set('Authorization', `Bearer ${northside}`).expect(200);
      return { since, until: new Date(Date.now() + 1000), readerId: reader.split('.')[1] as string, missing };
    }

    it("when a clinic's access records are exported as CSV, then each request of that clinic is one row, oldest first, with the key's name and nothing of another clinic", async () => {
      const { since, until, readerId, missing } = await someRequests();
      const lines: string[] = [];
      const names = new Map(t.keys.map((k) => [k.id, k.name]));
      const n = await exportAccessRecords(t.stores.accessLog, { clinicId: 'downtown', since, until }, 'csv', (l) => void lines.push(l), names);
      expect(n).to.equal(3);
      expect(lines[0]).to.equal(ACCESS_CSV_COLUMNS.join(','));
      const rows = lines.slice(1).map((l) => l.split(','));
      const col = (name: (typeof ACCESS_CSV_COLUMNS)[number]): number => ACCESS_CSV_COLUMNS.indexOf(name);
      expect(rows.map((r) => [r[col('keyId')], r[col('keyName')], r[col('method')], r[col('route')], r[col('conversationId')], r[col('status')]])).to.deep.equal([
        [readerId, 'front desk', 'GET', '/v1/clinics/:clinicId/conversations', '', '200'],
        [readerId, 'front desk', 'GET', '/v1/clinics/:clinicId/conversations/:id', missing, '404'],
        ['', '', 'GET', '/v1/clinics/:clinicId/conversations', '', '401'],
      ]);
      const times = rows.map((r) => Date.parse(r[col('at')] as string));
      expect(times).to.deep.equal([...times].sort((a, b) => a - b));
      expect(rows.every((r) => r[col('clinicId')] === 'downtown' && /^[\w.:-]+$/.test(r[col('requestId')] as string))).to.equal(true);
    });

    it('when they are exported as JSON lines, then each line is one whole record with its key name', async () => {
      const { since, until, readerId } = await someRequests();
      const lines: string[] = [];
      await exportAccessRecords(t.stores.accessLog, { clinicId: 'northside', since, until }, 'jsonl', (l) => void lines.push(l), new Map([[readerId, 'front desk']]));
      expect(lines).to.have.length(1);
      const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
      expect(record).to.include({ clinicId: 'northside', method: 'GET', route: '/v1/clinics/:clinicId/conversations', status: 200, conversationId: null, keyName: null });
      expect(Object.keys(record).sort()).to.deep.equal(['at', 'clientAddress', 'clientRequestId', 'clinicId', 'conversationId', 'conversationIds', 'keyId', 'keyName', 'method', 'requestId', 'route', 'status', 'userAgent', 'who']);
    });

    it('when the range starts after the requests, then nothing is exported but the header', async () => {
      const { until } = await someRequests();
      const lines: string[] = [];
      expect(await exportAccessRecords(t.stores.accessLog, { clinicId: 'downtown', since: until, until: new Date(until.getTime() + 60_000) }, 'csv', (l) => void lines.push(l))).to.equal(0);
      expect(lines).to.deep.equal([ACCESS_CSV_COLUMNS.join(',')]);
    });

    if (kind.name === 'MongoDB store') {
      it('when `clinic-sms export --access` runs against MongoDB, then it writes the clinic\'s access records to the file and a summary to stderr', async () => {
        const server = await getTestMongo();
        const { readerId } = await someRequests();
        const out = path.join(dir, 'access.csv');
        const errs: string[] = [];
        const outs: string[] = [];
        const keysFile = path.join(dir, 'api-keys.yaml');
        await fs.writeFile(keysFile, renderKeysFile(t.keys));
        const io = { env: { MONGODB_URI: uriWithDb(server!.uri, dbName), CLINICS_FILE: 'test/fixtures/clinics.yaml', KEYS_FILE: keysFile }, cwd: process.cwd(), out: (l: string) => outs.push(l), err: (l: string) => errs.push(l) };
        const day = new Date().toISOString().slice(0, 10);
        const since = new Date(Date.now() - 86_400_000 * 2).toISOString().slice(0, 10);

        const code = await exportCommand(['--access', '--clinic', 'downtown', '--since', since, '--until', day, '--out', out], io);

        expect(code, errs.join('\n')).to.equal(0);
        const lines = (await fs.readFile(out, 'utf8')).trim().split('\n');
        expect(lines[0]).to.equal(ACCESS_CSV_COLUMNS.join(','));
        expect(lines.filter((l) => l.includes(`,${readerId},front desk,downtown,`))).to.have.length(2);
        expect(lines.slice(1).every((l) => l.includes(',downtown,'))).to.equal(true);
        expect(outs).to.deep.equal([]);
        expect(errs.join('\n')).to.match(new RegExp(`exported ${lines.length - 1} access record\\(s\\) of clinic downtown`));
      });

      it('when `clinic-sms export` runs, then the access trail records who ran it (OS user and host), what it exported and when', async () => {
        const server = await getTestMongo();
        const started = new Date();
        const io = { env: { MONGODB_URI: uriWithDb(server!.uri, dbName), CLINICS_FILE: 'test/fixtures/clinics.yaml' }, cwd: process.cwd(), out: () => undefined, err: () => undefined };
        expect(await exportCommand(['--clinic', 'downtown', '--since', '2026-01-01', '--until', '2026-02-01', '--format', 'jsonl'], io)).to.equal(0);
        expect(await exportCommand(['--access', '--clinic', 'downtown', '--since', '2026-01-01', '--until', '2026-02-01'], io)).to.equal(0);
        const records = [];
        for await (const r of t.stores.accessLog.list({ clinicId: 'downtown', since: started, until: new Date(Date.now() + 1000) })) {
          if (r.method === 'CLI') {
            records.push(r);
          }
        }
        expect(records.map((r) => [r.route, r.detail, r.status, r.keyId])).to.deep.equal([
          ['clinic-sms export', 'audit records 2026-01-01T06:00:00.000Z to 2026-02-02T06:00:00.000Z as jsonl to stdout', 200, null],
          ['clinic-sms export', 'access records 2026-01-01T06:00:00.000Z to 2026-02-02T06:00:00.000Z as csv to stdout', 200, null],
        ]);
        for (const r of records) {
          expect(r.who).to.deep.equal({ kind: 'cli', osUser: os.userInfo().username, host: os.hostname() });
          expect(r.at.getTime()).to.be.within(started.getTime(), Date.now());
        }
      });
    }
  });
}
