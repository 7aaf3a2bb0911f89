import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { DroppedMessage } from '../store/memory/memory-store.js';
import { MemoryJobs } from '../jobs/job-store.js';
import { applyUpdate, type LeasedMedia, type MediaFileMeta, type MediaRecord, type MediaStore, type MediaUpdate } from './media-store.js';

const FILE_ID = /^[0-9a-f-]{36}$/;

export class MemoryMediaStore implements MediaStore {
  readonly kind = 'memory' as const;
  /**
   * The records, and those with work left soonest due first (the jobs kit's MemoryJobs): a
   * lease walks them from the front and stops at the first one not due yet, as MongoDB walks
   * its work_nextAttemptAt index, so a backlog of pending fetches does not slow each lease.
   */
  private readonly jobs = new MemoryJobs<MediaRecord>({ isDue: (r) => r.work !== 'none' });
  /** Record ids by MessageSid: what goes when the main store drops a message. */
  private readonly byMessage = new Map<string, string[]>();

  /** @param dir - MEDIA_DIR */
  constructor(private readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {}

  async addJobs(records: readonly MediaRecord[]): Promise<number> {
    const fresh = records.filter((r) => this.jobs.peek(r.id) === undefined);
    for (const r of fresh) {
      this.byMessage.set(r.messageSid, [...(this.byMessage.get(r.messageSid) ?? []), r.id]);
    }
    return this.jobs.add(records);
  }

  async lease(now: Date, leaseMs: number): Promise<LeasedMedia | null> {
    return this.jobs.lease(now, leaseMs);
  }

  async finish(leased: LeasedMedia, update: MediaUpdate): Promise<boolean> {
    return this.jobs.finish(leased, applyUpdate(leased.job, structuredClone(update)));
  }

  async forget(dropped: Pick<DroppedMessage, 'messageSid'>): Promise<void> {
    const ids = this.byMessage.get(dropped.messageSid) ?? [];
    this.byMessage.delete(dropped.messageSid);
    const files: string[] = [];
    for (const id of ids) {
      const record = this.jobs.delete(id);
      if (record?.file) {
        files.push(record.file.fileId);
      }
    }
    await Promise.all(files.map((fileId) => this.deleteFile(fileId)));
  }

  /** How many media records are kept (tests, the bench). */
  get size(): number {
    return this.jobs.size;
  }

  /** Records with work left (fetches, deletions at Twilio). */
  async countWork(): Promise<number> {
    return this.jobs.dueCount;
  }

  async saveFile(_meta: MediaFileMeta, bytes: Buffer): Promise<string> {
    const fileId = randomUUID();
    // Made here too: a job may run before init() (it is retried at start when the disk is slow).
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = join(this.dir, `${fileId}.part`);
    await writeFile(temp, bytes, { mode: 0o600 });
    await rename(temp, join(this.dir, fileId));
    return fileId;
  }

  async openFile(fileId: string): Promise<Readable | null> {
    if (!FILE_ID.test(fileId)) {
      return null;
    }
    const path = join(this.dir, fileId);
    try {
      await stat(path);
    } catch {
      return null;
    }
    return createReadStream(path);
  }

  async deleteFile(fileId: string): Promise<void> {
    if (FILE_ID.test(fileId)) {
      await rm(join(this.dir, fileId), { force: true });
    }
  }

  async get(clinicId: string, id: string): Promise<MediaRecord | null> {
    const r = this.jobs.peek(id);
    return r && r.clinicId === clinicId ? structuredClone(r) : null;
  }

  async listForMessages(clinicId: string, messageSids: readonly string[]): Promise<MediaRecord[]> {
    const wanted = new Set(messageSids);
    const out = [...this.jobs.values()].filter((r) => r.clinicId === clinicId && wanted.has(r.messageSid));
    return structuredClone(out.sort(byMessageThenIndex));
  }
}

export const byMessageThenIndex = (a: MediaRecord, b: MediaRecord): number =>
  a.messageSid < b.messageSid ? -1 : a.messageSid > b.messageSid ? 1 : a.index - b.index;
