import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';

// The test database itself (tools/ferretdb, DESIGN.md 'The test database'): start.sh on
// the machine's PostgreSQL, as CI and `npm run db` use it. It must run many commands at
// once (no serializing proxy) and still keep single-document updates atomic, as MongoDB
// does, because the service's leases, counters and upserts rely on that.

interface Started {
  env: Record<string, string>;
  stdout: string;
  stderr: string;
}

function startDb(): Started {
  const r = spawnSync('bash', ['tools/ferretdb/start.sh'], { encoding: 'utf8', env: { ...process.env, FERRETDB_PORT: '0', FERRETDB_BACKEND: 'postgresql' } });
  if (r.status !== 0) {
    throw new Error(`start.sh failed (${String(r.status)}): ${r.stderr}`);
  }
  const env: Record<string, string> = {};
  for (const line of r.stdout.trim().split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (!m) {
      throw new Error(`not an export line on stdout: ${line}`);
    }
    env[m[1] as string] = m[2] as string;
  }
  return { env, stdout: r.stdout, stderr: r.stderr };
}

/** Pids and real uids of the processes whose parent is `pid`. */
function children(pid: string): { pid: string; uid: number; cmd: string }[] {
  const r = spawnSync('ps', ['-o', 'pid=,uid=,comm=', '--ppid', pid], { encoding: 'utf8' });
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [p, uid, cmd] = l.trim().split(/\s+/);
      return { pid: p as string, uid: Number(uid), cmd: cmd as string };
    });
}

const alive = (pid: string): boolean => spawnSync('kill', ['-0', pid]).status === 0 && !/^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', pid], { encoding: 'utf8' }).stdout.trim());

describe('tools/ferretdb: FerretDB on PostgreSQL, as CI starts it', function () {
  this.timeout(90_000);
  let db: Started | undefined;
  let client: MongoClient | undefined;

  before(function () {
    this.timeout(90_000);
    db = startDb();
    client = new MongoClient(db.env.MONGODB_URI as string, { maxPoolSize: 20 });
  });

  after(async () => {
    await client?.close();
    if (db) {
      spawnSync('bash', ['tools/ferretdb/stop.sh'], { env: { ...process.env, ...db.env } });
    }
  });

  it('when it starts, then stdout is only export lines, the backend is postgresql, and PostgreSQL runs as an unprivileged user', () => {
    const { env, stdout } = db as Started;
    expect(stdout.trim().split('\n').every((l) => l.startsWith('export '))).to.equal(true);
    expect(Object.keys(env)).to.include.members(['MONGODB_URI', 'FERRETDB_PID', 'FERRETDB_RUN_DIR', 'FERRETDB_LOG', 'FERRETDB_BIN', 'FERRETDB_BACKEND']);
    expect(env.FERRETDB_BACKEND).to.equal('postgresql');
    const postmaster = children(env.FERRETDB_PID as string).filter((c) => c.cmd === 'postgres');
    expect(postmaster, 'the launcher has one postgres child').to.have.length(1);
    if (process.getuid?.() === 0) {
      expect(postmaster[0]?.uid).to.not.equal(0);
    }
  });

  it('when 20 clients increment one document at once, then none is lost, and concurrent claims and upserts behave as on MongoDB', async () => {
    const col = (client as MongoClient).db(`t_launcher_${Date.now().toString(36)}`).collection<{ _id: string; n?: number; owner?: number | null }>('x');
    try {
      await col.insertOne({ _id: 'a', n: 0, owner: null });
      await Promise.all(Array.from({ length: 20 }, () => col.updateOne({ _id: 'a' }, { $inc: { n: 1 } })));
      expect((await col.findOne({ _id: 'a' }))?.n).to.equal(20);

      const winners: number[] = [];
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const doc = await col.findOneAndUpdate({ _id: 'a', owner: null }, { $set: { owner: i } }, { returnDocument: 'after' });
          if (doc) {
            winners.push(i);
          }
        }),
      );
      expect(winners).to.have.length(1);
      expect((await col.findOne({ _id: 'a' }))?.owner).to.equal(winners[0]);

      const upserts = await Promise.allSettled(Array.from({ length: 10 }, () => col.findOneAndUpdate({ _id: 'u' }, { $inc: { n: 1 } }, { upsert: true, returnDocument: 'after' })));
      expect(upserts.filter((u) => u.status === 'rejected')).to.deep.equal([]);
      expect((await col.findOne({ _id: 'u' }))?.n).to.equal(10);
    } finally {
      await col.drop().catch(() => undefined);
    }
  });

  it('when 12 clients lease "the first due job" at once, then they get the 12 first, one each; and $in and $nin on a field treat scalars, arrays and a missing field as MongoDB does', async () => {
    const db = (client as MongoClient).db(`t_launcher_${Date.now().toString(36)}`);
    const jobs = db.collection<{ _id: string; due: number; owner: number | null }>('jobs');
    const tags = db.collection<{ _id: string; tag?: string | string[] }>('tags');
    try {
      const ids = Array.from({ length: 30 }, (_, i) => `j${String(i).padStart(2, '0')}`);
      await jobs.insertMany(ids.map((_id, due) => ({ _id, due, owner: null })));
      // The patch's findAndModify passes over a job another client took for the next in order.
      const leased = await Promise.all(Array.from({ length: 12 }, (_, i) => jobs.findOneAndUpdate({ owner: null }, { $set: { owner: i } }, { sort: { due: 1 }, returnDocument: 'after' })));
      expect(leased.map((d) => d?._id).sort()).to.deep.equal(ids.slice(0, 12));
      expect(new Set(leased.map((d) => d?.owner)).size).to.equal(12);
      expect(await jobs.countDocuments({ owner: { $ne: null } })).to.equal(12);

      // $in is pushed down to PostgreSQL by the patch: an array holding a value still matches.
      await tags.insertMany([
        { _id: 'scalar', tag: 'a' },
        { _id: 'array', tag: ['x', 'a'] },
        { _id: 'other', tag: 'b' },
        { _id: 'other-array', tag: ['b', 'c'] },
        { _id: 'none' },
      ]);
      expect((await tags.find({ tag: { $in: ['a', 'z'] } }).toArray()).map((d) => d._id).sort()).to.deep.equal(['array', 'scalar']);
      expect((await tags.find({ tag: { $in: ['c'] }, _id: { $ne: 'x' } }).toArray()).map((d) => d._id)).to.deep.equal(['other-array']);
      // $nin too: a missing field matches, an array holding a value does not.
      expect((await tags.find({ tag: { $nin: ['a', 'z'] } }).toArray()).map((d) => d._id).sort()).to.deep.equal(['none', 'other', 'other-array']);
    } finally {
      await db.dropDatabase().catch(() => undefined);
    }
  });

  it('when findAndModify takes documents in the order of one field, then the order is MongoDB\'s: by type (missing and null, numbers, strings by bytes, dates), then value, either way', async () => {
    const db = (client as MongoClient).db(`t_launcher_${Date.now().toString(36)}`);
    type Doc = { _id: string; due?: unknown; taken?: boolean };
    // The patch's ORDER BY in PostgreSQL (ranked types only), and the sort in Go it falls back to (a double).
    const ranked: Doc[] = [
      { _id: 'late', due: new Date(3000) },
      { _id: 'early', due: new Date(1000) },
      { _id: 'missing' },
      { _id: 'null', due: null },
      { _id: 'lower', due: 'a' },
      { _id: 'upper', due: 'B' },
      { _id: 'int', due: 5 },
    ];
    const takeAll = async (name: string, docs: Doc[], direction: 1 | -1): Promise<string[]> => {
      const col = db.collection<Doc>(`${name}_${direction}`);
      await col.insertMany(docs);
      const order: string[] = [];
      for (let doc = await col.findOneAndUpdate({ taken: { $exists: false } }, { $set: { taken: true } }, { sort: { due: direction } }); doc; ) {
        order.push(doc._id);
        doc = await col.findOneAndUpdate({ taken: { $exists: false } }, { $set: { taken: true } }, { sort: { due: direction } });
      }
      return order;
    };
    try {
      const nullsFirst = (order: string[]): string[] => [...order.slice(0, 2).sort(), ...order.slice(2)];
      expect(nullsFirst(await takeAll('ranked', ranked, 1))).to.deep.equal(['missing', 'null', 'int', 'upper', 'lower', 'early', 'late']);
      expect((await takeAll('ranked', ranked, -1)).slice(0, 5)).to.deep.equal(['late', 'early', 'lower', 'upper', 'int']);
      const mixed = [...ranked, { _id: 'double', due: 2.5 }];
      expect(nullsFirst(await takeAll('mixed', mixed, 1))).to.deep.equal(['missing', 'null', 'double', 'int', 'upper', 'lower', 'early', 'late']);
    } finally {
      await db.dropDatabase().catch(() => undefined);
    }
  });

  it('when stop.sh runs, then the launcher and PostgreSQL are gone and the run folder is removed', async () => {
    const { env } = db as Started;
    const pids = [env.FERRETDB_PID as string, ...children(env.FERRETDB_PID as string).map((c) => c.pid)];
    await client?.close();
    client = undefined;
    const r = spawnSync('bash', ['tools/ferretdb/stop.sh'], { encoding: 'utf8', env: { ...process.env, ...env } });
    db = undefined;
    expect(r.status, r.stderr).to.equal(0);
    expect(pids.filter(alive)).to.deep.equal([]);
    await expect(fs.stat(env.FERRETDB_RUN_DIR as string)).to.be.rejectedWith(/ENOENT/);
  });
});
