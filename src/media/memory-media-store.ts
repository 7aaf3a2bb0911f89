import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { DroppedMessage } from '../store/memory/memory-store.js';
import { applyUpdate, type LeasedMedia, type MediaFileMeta, type MediaRecord, type MediaStore, type MediaUpdate } from './media-store.js';

const FILE_ID = /^[0-9a-f-]{36}$/;

/** A record with work left, as the lease index holds it. */
interface DueKey {
  at: number;
  id: string;
}

const before = (a: DueKey, b: DueKey): boolean => a.at < b.at || (a.at === b.at && a.id < b.id);

/**
 * The embedded store's media part: records in a Map (copies in and out, gone at a
 * restart like the rest of the embedded store), files under MEDIA_DIR (written to a
 * temporary name, then renamed, so a half-written file is never served). Bounded with the
 * main store: a message's records and files go when the store drops the message (forget).
 */
export class MemoryMediaStore implements MediaStore {
  readonly kind = 'memory' as const;
  private readonly records = new Map<string, { record: MediaRecord; token: string | null }>();
  /** Record ids by MessageSid: what goes when the main store drops a message. */
  private readonly byMessage = new Map<string, string[]>();
  /**
   * The records with work left, soonest due first: a lease walks it from the front and
   * stops at the first one not due yet, as MongoDB walks its work_nextAttemptAt index.
   * Without it every lease looked at every record ever added, and a backlog of pending
   * fetches made each lease slower than the last.
   */
  private readonly due: DueKey[] = [];

  /** @param dir - MEDIA_DIR */
  constructor(private readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {}

  async addMedia(records: readonly MediaRecord[]): Promise<number> {
    let added = 0;
    for (const r of records) {
      if (!this.records.has(r.id)) {
        this.records.set(r.id, { record: structuredClone(r), token: null });
        this.byMessage.set(r.messageSid, [...(this.byMessage.get(r.messageSid) ?? []), r.id]);
        this.index(r);
        added += 1;
      }
    }
    return added;
  }

  async lease(now: Date, leaseMs: number): Promise<LeasedMedia | null> {
    // Past the records under a lease (a few: one per job in flight), the first one is the soonest due.
    for (const { at, id } of this.due) {
      if (at > now.getTime()) {
        return null;
      }
      const entry = this.records.get(id);
      if (!entry || entry.record.lockedUntil > now) {
        continue;
      }
      entry.token = randomUUID();
      entry.record.lockedUntil = new Date(now.getTime() + leaseMs);
      return { record: structuredClone(entry.record), token: entry.token };
    }
    return null;
  }

  async finish(leased: LeasedMedia, update: MediaUpdate): Promise<boolean> {
    const entry = this.records.get(leased.record.id);
    if (!entry || entry.token !== leased.token) {
      return false;
    }
    entry.token = null;
    this.unindex(entry.record);
    entry.record = applyUpdate(entry.record, structuredClone(update));
    this.index(entry.record);
    return true;
  }

  /**
   * The embedded store dropped a message (its bound, MEMORY_STORE_MAX_MESSAGES): its media
   * records go, with their files under MEDIA_DIR; a job under way on one finds it gone
   * (finish answers false) and writes nothing.
   * @param dropped - the message the store let go of
   * @returns once the files are deleted
   */
  async forget(dropped: Pick<DroppedMessage, 'messageSid'>): Promise<void> {
    const ids = this.byMessage.get(dropped.messageSid) ?? [];
    this.byMessage.delete(dropped.messageSid);
    const files: string[] = [];
    for (const id of ids) {
      const entry = this.records.get(id);
      if (entry) {
        this.unindex(entry.record);
        this.records.delete(id);
        if (entry.record.file) {
          files.push(entry.record.file.fileId);
        }
      }
    }
    await Promise.all(files.map((fileId) => this.deleteFile(fileId)));
  }

  /** How many media records are kept (tests, the bench). */
  get size(): number {
    return this.records.size;
  }

  /** Where `key` is in the lease index, or would go (binary search). */
  private position(key: DueKey): number {
    let lo = 0;
    let hi = this.due.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.due[mid] as DueKey, key)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private index(r: MediaRecord): void {
    if (r.work !== 'none') {
      const key = { at: r.nextAttemptAt.getTime(), id: r.id };
      this.due.splice(this.position(key), 0, key);
    }
  }

  private unindex(r: MediaRecord): void {
    const at = this.position({ at: r.nextAttemptAt.getTime(), id: r.id });
    if (this.due[at]?.id === r.id) {
      this.due.splice(at, 1);
    }
  }

  async countWork(): Promise<number> {
    return this.due.length;
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
    const r = this.records.get(id)?.record;
    return r && r.clinicId === clinicId ? structuredClone(r) : null;
  }

  async listForMessages(clinicId: string, messageSids: readonly string[]): Promise<MediaRecord[]> {
    const wanted = new Set(messageSids);
    const out = [...this.records.values()].map((e) => e.record).filter((r) => r.clinicId === clinicId && wanted.has(r.messageSid));
    return structuredClone(out.sort(byMessageThenIndex));
  }
}

export const byMessageThenIndex = (a: MediaRecord, b: MediaRecord): number =>
  a.messageSid < b.messageSid ? -1 : a.messageSid > b.messageSid ? 1 : a.index - b.index;
