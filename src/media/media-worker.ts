import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clinic } from '../domain.js';
import type { FieldLogger } from '../logger.js';
import { ALLOWED_TYPES, detectType } from './detect-type.js';
import { deleteTwilioMedia, downloadMedia } from './download.js';
import type { LeasedMedia, MediaRecord, MediaStore, MediaUpdate } from './media-store.js';
import { LeasedWorker, type LeasedWorkerTiming } from '../jobs/leased-worker.js';
import { MEDIA_RETRY_DELAYS_MS, attemptProblem, nextRetryMs } from '../jobs/retry-schedule.js';
import { mediaCredentials } from './twilio-credentials.js';
import { checkMediaUrl, type UrlPolicy } from './url-policy.js';
import { eventLoopBusy } from '../event-loop-load.js';

/** The largest media file kept. */
export const MAX_MEDIA_BYTES = 5 * 1024 * 1024;

/**
 * Timing (LeasedWorkerTiming): jobs in flight at once (default 2: each may hold up to
 * MAX_MEDIA_BYTES), one download with its redirects (default 30 000 ms), the lease (default
 * timeout + 30 000 ms), the retry schedule (default MEDIA_RETRY_DELAYS_MS).
 */
export interface MediaWorkerOptions extends LeasedWorkerTiming {
  media: MediaStore;
  clinic: (id: string) => Clinic | undefined;
  policy: UrlPolicy;
  env: Record<string, string | undefined>;
  /** TWILIO_AUTH_TOKEN (the account credentials of clinics without their own). */
  defaultToken: string | undefined;
  logger: Pick<FieldLogger, 'info' | 'warn'>;
  maxBytes?: number;
  /** Told of each settled job (metrics). */
  onSettled?: (record: MediaRecord, update: MediaUpdate) => void;
  /** Whether the instance is busy (main.ts: a request within 100 ms or the event loop over half busy; default: the event loop alone). */
  busy?: () => boolean;
  /** While busy, each loop waits this long before its next job. Default 100 ms. */
  busyPauseMs?: number;
}

/** The fields a record keeps from one kind of work to the next. */
function carried(r: MediaRecord): Partial<MediaUpdate> {
  const out: Partial<MediaUpdate> = {};
  if (r.reason !== undefined) {
    out.reason = r.reason;
  }
  if (r.file !== undefined) {
    out.file = r.file;
  }
  if (r.twilioDeletedAt !== undefined) {
    out.twilioDeletedAt = r.twilioDeletedAt;
  }
  return out;
}

/** Answers worth another try: Twilio's media can lag the webhook (404), and outages pass. */
const RETRYABLE = new Set([401, 403, 404, 408, 425, 429, 500, 502, 503, 504]);

/**
 * Fetches media in the background: each worker leases one due record (one atomic
 * findOneAndUpdate, so instances can share one database), downloads it with the
 * clinic's credentials, checks size and type, keeps the bytes and writes the result
 * under its lease. A worker that dies mid-job writes nothing: its lease runs out and
 * another takes the job. When the clinic asks for it, Twilio's copy is deleted once
 * ours is kept (a second piece of work on the same record).
 */
export class MediaWorker extends LeasedWorker<LeasedMedia> {
  private readonly maxBytes: number;
  private readonly busy: () => boolean;
  private readonly busyPauseMs: number;

  constructor(private readonly options: MediaWorkerOptions) {
    super({ ...options, name: 'media: job', defaults: { concurrency: 2, timeoutMs: 30_000, leaseMarginMs: 30_000, retryDelaysMs: MEDIA_RETRY_DELAYS_MS } });
    this.maxBytes = options.maxBytes ?? MAX_MEDIA_BYTES;
    this.busy = options.busy ?? eventLoopBusy();
    this.busyPauseMs = options.busyPauseMs ?? 100;
  }

  /**
   * The webhook shares this process and comes first: while the instance serves requests
   * (or its event loop is busy), a backlog is fetched at one job a pause per loop (about
   * 20 files a second an instance), not with all the CPU the webhook leaves.
   */
  protected async pace(): Promise<void> {
    if (this.busy()) {
      await sleep(this.busyPauseMs);
    }
  }

  protected leaseNext(): Promise<LeasedMedia | null> {
    return this.options.media.lease(this.clock(), this.leaseMs);
  }

  protected work(leased: LeasedMedia): Promise<void> {
    return leased.job.work === 'delete' ? this.deleteAtTwilio(leased) : this.fetch(leased);
  }

  private async fetch(leased: LeasedMedia): Promise<void> {
    const r = leased.job;
    const clinic = this.options.clinic(r.clinicId);
    if (!clinic) {
      await this.finish(leased, { state: 'failed', work: 'none', attempts: r.attempts, nextAttemptAt: r.nextAttemptAt, reason: 'clinic no longer configured' });
      return;
    }
    // Checked again: the policy is the one in force now, not when the job was made.
    const checked = checkMediaUrl(r.url, this.options.policy);
    if (!checked.ok) {
      await this.finish(leased, { state: 'refused', work: 'none', attempts: r.attempts, nextAttemptAt: r.nextAttemptAt, reason: checked.reason });
      return;
    }
    const auth = mediaCredentials(clinic, checked.media.accountSid, this.options.env, this.options.defaultToken);
    if (!auth) {
      await this.finish(leased, { state: 'failed', work: 'none', attempts: r.attempts, nextAttemptAt: r.nextAttemptAt, reason: 'no Twilio credentials configured for the clinic' });
      return;
    }
    const result = await downloadMedia({ url: checked.media.url, auth, policy: this.options.policy, maxBytes: this.maxBytes, timeoutMs: this.timeoutMs, signal: this.signal });
    if (this.signal.aborted) {
      return;
    }
    const attempts = r.attempts + 1;
    if (result.kind === 'ok') {
      await this.keep(leased, clinic, result.bytes, attempts);
      return;
    }
    if (result.kind === 'too-large') {
      await this.finish(leased, { state: 'refused', work: 'none', attempts, nextAttemptAt: r.nextAttemptAt, reason: `larger than ${result.limit} bytes` });
      return;
    }
    if (result.kind === 'refused') {
      await this.finish(leased, { state: 'refused', work: 'none', attempts, nextAttemptAt: r.nextAttemptAt, reason: result.reason });
      return;
    }
    const problem = attemptProblem(result);
    const retry = result.kind !== 'status' || RETRYABLE.has(result.status) ? nextRetryMs(attempts, this.delays, this.random()) : null;
    if (retry === null) {
      await this.finish(leased, { state: 'failed', work: 'none', attempts, nextAttemptAt: r.nextAttemptAt, reason: problem, lastError: problem });
      this.options.logger.warn({ media: r.id, clinic: r.clinicId, attempts, lastError: problem }, 'media: fetch failed for good');
      return;
    }
    await this.finish(leased, { state: 'pending', work: 'fetch', attempts, nextAttemptAt: new Date(this.clock().getTime() + retry), lastError: problem });
    this.options.logger.info({ media: r.id, clinic: r.clinicId, attempts, lastError: problem, retryInMs: retry }, 'media: fetch attempt failed; will retry');
  }

  /** Checks the bytes' real type, keeps an allowed file, and records the outcome. */
  private async keep(leased: LeasedMedia, clinic: Clinic, bytes: Buffer, attempts: number): Promise<void> {
    const r = leased.job;
    const detected = await detectType(bytes);
    if (detected === null || !ALLOWED_TYPES.has(detected)) {
      const reason = `type ${detected ?? 'unknown'} not allowed (declared ${r.declaredType || 'none'})`;
      await this.finish(leased, { state: 'refused', work: 'none', attempts, nextAttemptAt: r.nextAttemptAt, reason });
      return;
    }
    const fetchedAt = this.clock();
    const file = { sha256: createHash('sha256').update(bytes).digest('hex'), contentType: detected, size: bytes.length, fetchedAt };
    const fileId = await this.options.media.saveFile({ clinicId: r.clinicId, messageSid: r.messageSid, index: r.index, ...file }, bytes);
    const deleteNext = clinic.deleteMediaFromTwilio === true;
    const kept = await this.finish(leased, {
      state: 'stored',
      work: deleteNext ? 'delete' : 'none',
      attempts: deleteNext ? 0 : attempts,
      nextAttemptAt: fetchedAt,
      file: { fileId, ...file },
    });
    if (!kept) {
      // Another instance owns the job now and keeps its own copy.
      await this.options.media.deleteFile(fileId);
    }
  }

  private async deleteAtTwilio(leased: LeasedMedia): Promise<void> {
    const r = leased.job;
    const clinic = this.options.clinic(r.clinicId);
    const checked = checkMediaUrl(r.url, this.options.policy);
    const auth = clinic && checked.ok ? mediaCredentials(clinic, checked.media.accountSid, this.options.env, this.options.defaultToken) : null;
    const base = { ...carried(r), state: r.state, nextAttemptAt: r.nextAttemptAt };
    // Only a copy we hold, with its sha256 recorded, lets Twilio's go.
    if (!clinic || !checked.ok || !auth || r.file?.sha256 === undefined) {
      await this.finish(leased, { ...base, work: 'none', attempts: r.attempts, twilioDeleteError: 'not deleted: no stored copy, clinic or credentials' });
      return;
    }
    const status = await deleteTwilioMedia(checked.media, auth, this.timeoutMs);
    if (this.signal.aborted) {
      return;
    }
    const attempts = r.attempts + 1;
    if (status === 204 || status === 200 || status === 404) {
      await this.finish(leased, { ...base, work: 'none', attempts, twilioDeletedAt: this.clock() });
      return;
    }
    const problem = status === null ? 'no answer' : `HTTP ${status}`;
    const retry = nextRetryMs(attempts, this.delays, this.random());
    if (retry === null) {
      await this.finish(leased, { ...base, work: 'none', attempts, twilioDeleteError: problem, lastError: problem });
      this.options.logger.warn({ media: r.id, clinic: r.clinicId, lastError: problem }, 'media: deleting Twilio\'s copy failed for good');
      return;
    }
    await this.finish(leased, { ...base, work: 'delete', attempts, nextAttemptAt: new Date(this.clock().getTime() + retry), lastError: problem });
  }

  private async finish(leased: LeasedMedia, update: MediaUpdate): Promise<boolean> {
    const kept = await this.written(this.options.media.finish(leased, update), { media: leased.job.id });
    if (kept && update.work === 'none') {
      this.options.onSettled?.(leased.job, update);
    }
    return kept;
  }
}
