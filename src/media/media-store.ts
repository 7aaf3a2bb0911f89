import type { Readable } from 'node:stream';

/** What staff see of a media item: fetching, kept, refused (with the reason) or given up on. */
export const MEDIA_STATES = ['pending', 'stored', 'refused', 'failed'] as const;
export type MediaState = (typeof MEDIA_STATES)[number];

/** The work a media record still waits for; 'none' once it is settled. */
export type MediaWork = 'fetch' | 'delete' | 'none';

/** The kept copy of a media item. */
export interface MediaFile {
  /** GridFS file id (hex) or the embedded store's file name. */
  fileId: string;
  sha256: string;
  /** The type detected from the bytes (never the one Twilio declared). */
  contentType: string;
  size: number;
  fetchedAt: Date;
}

/**
 * One `MediaUrlN` of one inbound message: its state for staff and, while work remains,
 * the job that fetches it (and deletes Twilio's copy when the clinic asks for that).
 * The record is the job: it lives in the store, so it survives a restart, and a lease
 * (lockedUntil + a token) lets any number of instances share the work.
 */
export interface MediaRecord {
  /** `<MessageSid>-<index>`: deterministic, so the relay can add the same message twice. */
  id: string;
  clinicId: string;
  messageSid: string;
  /** N of MediaUrlN. */
  index: number;
  /** The URL as received (at most 2,048 characters kept). */
  url: string;
  /** MediaContentTypeN as Twilio declared it (recorded, never trusted). */
  declaredType: string;
  /** The message's AccountSid, when it had one. */
  accountSid?: string;
  receivedAt: Date;
  createdAt: Date;
  state: MediaState;
  /** Why it was refused or failed, in a few words (no PHI). */
  reason?: string;
  work: MediaWork;
  /** Attempts of the current work. */
  attempts: number;
  nextAttemptAt: Date;
  /** A lease holds it until then; the epoch when nobody holds it. */
  lockedUntil: Date;
  /** The last attempt's trouble (retried), e.g. `HTTP 404`. */
  lastError?: string;
  file?: MediaFile;
  /** When Twilio's copy was deleted (deleteMediaFromTwilio). */
  twilioDeletedAt?: Date;
  /** Why Twilio's copy could not be deleted, after the last attempt. */
  twilioDeleteError?: string;
}

/** A media record this instance holds under a lease (the jobs kit's lease and token). */
export type LeasedMedia = Leased<MediaRecord>;

/** What an attempt changes; absent optional fields are removed from the record. */
export interface MediaUpdate {
  state: MediaState;
  work: MediaWork;
  attempts: number;
  nextAttemptAt: Date;
  reason?: string;
  lastError?: string;
  file?: MediaFile;
  twilioDeletedAt?: Date;
  twilioDeleteError?: string;
}

/** GridFS metadata (and the embedded store's record of a file). */
export interface MediaFileMeta {
  clinicId: string;
  messageSid: string;
  index: number;
  sha256: string;
  contentType: string;
  size: number;
  fetchedAt: Date;
}

import type { JobStore, Leased } from '../jobs/job-store.js';
import { EPOCH } from '../jobs/retry-schedule.js';

export { EPOCH };

/**
 * The media part of the store (memory-media-store.ts: files under MEDIA_DIR;
 * mongo-media-store.ts: GridFS bucket `media`), a port of its own beside the Store.
 * Both pass test/contract/media-store.contract.ts and the jobs kit's job-store contract. Its
 * jobs are the records: due while work is left (a fetch, or a deletion at Twilio).
 */
export interface MediaStore extends JobStore<MediaRecord, MediaUpdate> {
  readonly kind: 'memory' | 'mongo';
  /** Creates indexes (or the folder). Safe to call again. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Keeps the bytes of a media item; returns the file id. */
  saveFile(meta: MediaFileMeta, bytes: Buffer): Promise<string>;
  /** The bytes of a kept file; null when there is no such file. */
  openFile(fileId: string): Promise<Readable | null>;
  deleteFile(fileId: string): Promise<void>;
  /** How many records have work left, fetches and deletions at Twilio, leased or not (the worker's backlog, a metric). */
  countWork(): Promise<number>;
  /** One clinic's record by id (another clinic's is null, as a missing one). */
  get(clinicId: string, id: string): Promise<MediaRecord | null>;
  /** The clinic's records of these messages, by MessageSid then index. */
  listForMessages(clinicId: string, messageSids: readonly string[]): Promise<MediaRecord[]>;
}

/** The record after an attempt: the lease released, optional fields the update lacks removed. */
export function applyUpdate(record: MediaRecord, update: MediaUpdate): MediaRecord {
  const { reason: _r, lastError: _l, file: _f, twilioDeletedAt: _d, twilioDeleteError: _e, ...kept } = record;
  const out: MediaRecord = { ...kept, ...update, lockedUntil: EPOCH };
  for (const key of Object.keys(out) as (keyof MediaRecord)[]) {
    if (out[key] === undefined) {
      Reflect.deleteProperty(out, key);
    }
  }
  return out;
}
