import { createHash } from 'node:crypto';
import type { InboundMessage } from '../domain.js';

/** Format version written into every spool file. */
export const SPOOL_FORMAT = 1;

/** One message kept in the spool while the database could not take it. */
export interface SpoolEntry {
  /** File-name-safe id derived from the MessageSid: one entry a MessageSid. */
  id: string;
  message: InboundMessage;
  /** When the webhook received it (the record's receivedAt after replay). */
  receivedAt: Date;
  spooledAt: Date;
  /** Orders entries received in the same millisecond. */
  seq: number;
}

interface Payload {
  v: number;
  id: string;
  receivedAt: string;
  spooledAt: string;
  seq: number;
  message: InboundMessage;
}

const SAFE_SID = /^[A-Za-z0-9]{1,64}$/;

/**
 * The entry id of a MessageSid: the sid itself when it is a plain token (Twilio's always
 * are), else a hash, so a file name can never escape the spool directory.
 * @param messageSid - the message's MessageSid
 */
export function entryId(messageSid: string): string {
  return SAFE_SID.test(messageSid) ? messageSid : `h${createHash('sha256').update(messageSid).digest('hex').slice(0, 40)}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The bytes of one spool file: the payload as JSON, then its SHA-256, so a torn or
 * altered file is recognised as such instead of being half-read.
 * @param entry - what to keep
 */
export function encodeEntry(entry: SpoolEntry): string {
  const payload: Payload = {
    v: SPOOL_FORMAT,
    id: entry.id,
    receivedAt: entry.receivedAt.toISOString(),
    spooledAt: entry.spooledAt.toISOString(),
    seq: entry.seq,
    message: entry.message,
  };
  const json = JSON.stringify(payload);
  return `${JSON.stringify({ payload, sha256: sha256(json) })}\n`;
}

const isString = (v: unknown): v is string => typeof v === 'string';

function isMessage(m: unknown): m is InboundMessage {
  if (!m || typeof m !== 'object') {
    return false;
  }
  const r = m as Record<string, unknown>;
  return (
    isString(r.messageSid) &&
    isString(r.from) &&
    isString(r.to) &&
    isString(r.body) &&
    typeof r.numMedia === 'number' &&
    Array.isArray(r.media) &&
    r.media.every((x) => x && typeof x === 'object' && isString((x as Record<string, unknown>).url) && isString((x as Record<string, unknown>).contentType)) &&
    !!r.extra &&
    typeof r.extra === 'object' &&
    Object.values(r.extra as object).every(isString)
  );
}

/**
 * Reads one spool file's text back, or returns the reason it cannot be trusted
 * (torn, garbage, checksum mismatch, unknown version, wrong shape).
 * @param text - the file's content
 */
export function decodeEntry(text: string): { ok: true; entry: SpoolEntry } | { ok: false; reason: string } {
  let outer: unknown;
  try {
    outer = JSON.parse(text);
  } catch {
    return { ok: false, reason: text.length === 0 ? 'empty file' : 'not complete JSON (torn or garbage)' };
  }
  const o = outer as { payload?: unknown; sha256?: unknown } | null;
  if (!o || typeof o !== 'object' || !o.payload || typeof o.payload !== 'object' || !isString(o.sha256)) {
    return { ok: false, reason: 'not a spool entry' };
  }
  if (sha256(JSON.stringify(o.payload)) !== o.sha256) {
    return { ok: false, reason: 'checksum mismatch' };
  }
  const p = o.payload as Partial<Payload>;
  if (p.v !== SPOOL_FORMAT) {
    return { ok: false, reason: `unknown format version ${String(p.v)}` };
  }
  const receivedAt = new Date(p.receivedAt ?? NaN);
  const spooledAt = new Date(p.spooledAt ?? NaN);
  if (!isString(p.id) || !isMessage(p.message) || Number.isNaN(receivedAt.getTime()) || Number.isNaN(spooledAt.getTime()) || typeof p.seq !== 'number') {
    return { ok: false, reason: 'malformed entry' };
  }
  if (p.id !== entryId(p.message.messageSid)) {
    return { ok: false, reason: 'id does not match the MessageSid' };
  }
  return { ok: true, entry: { id: p.id, message: p.message, receivedAt, spooledAt, seq: p.seq } };
}

/** Replay order: as received; same millisecond by sequence, then id. */
export function compareEntries(a: SpoolEntry, b: SpoolEntry): number {
  return a.receivedAt.getTime() - b.receivedAt.getTime() || a.seq - b.seq || a.id.localeCompare(b.id);
}
