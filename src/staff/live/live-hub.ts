import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { ChangedConversation } from '../../conversations/conversation.js';
import type { ChangeKey, ConversationStore } from '../../conversations/conversation-store.js';
import type { Logger } from '../../logger.js';
import { releaseAddressSlot } from '../../http/server-limits.js';
import { PollLoop } from '../../jobs/poll-loop.js';

export interface LiveHubOptions {
  conversations: Pick<ConversationStore, 'changedSince'>;
  logger: Logger;
  /** How often the database is asked what changed, ms (1 s). */
  pollMs?: number;
  /**
   * How far back each look reaches before the newest change already seen, ms: a write with
   * an earlier time (another instance's clock, or a slow write) that became visible late is
   * still caught; what was already sent is not sent again.
   */
  overlapMs?: number;
  /** A comment line on every stream this often, ms, so proxies keep it open; each stream's session is checked again then too. */
  heartbeatMs?: number;
  clock?: () => Date;
}

interface Stream {
  clinicId: string;
  body: PassThrough;
  /** Whether the tab's session still stands (idle timeout, sign-out, staff file): false ends the stream. */
  stillSignedIn?: () => Promise<boolean>;
}

const BATCH = 500;
/** How often an idle stream gets a comment line (proxies' read timeouts must be longer: deploy/nginx). */
export const HEARTBEAT_MS = 20_000;

/**
 * The live updates of the staff pages: one Server-Sent Events stream per signed-in tab,
 * and one poller an instance. The poller asks the database once a second which
 * conversations changed since its last look (every instance's writes, so a webhook that hit
 * another instance shows here too; works on FerretDB, no change streams) and sends each
 * stream of that clinic two named events: the change's kind (`message.created`,
 * `conversation.status_changed`, … as Chatwoot names them; the list listens) and the
 * conversation's id (its open thread listens). Events carry ids only, never PHI: the page
 * asks for the partial again through its session. No stream open: no query.
 */
export class LiveHub {
  private readonly streams = new Set<Stream>();
  private readonly loop: PollLoop;
  private readonly seen = new Map<string, number>();
  private readonly clock: () => Date;
  private readonly overlapMs: number;
  private readonly heartbeatMs: number;
  private cursor: number;
  /** The look in progress: where it started, and the last change of its previous page. */
  private look: { since: Date; after: ChangeKey | undefined } | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly options: LiveHubOptions) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.overlapMs = options.overlapMs ?? 3000;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.cursor = this.clock().getTime();
    this.loop = new PollLoop(
      () => this.step(),
      options.pollMs ?? 1000,
      (err) => options.logger.warn({ err: { code: (err as { code?: string }).code, msg: (err as Error).message } }, 'staff live updates: the look for changes failed'),
    );
  }

  /** How many streams are open on this instance. */
  get size(): number {
    return this.streams.size;
  }

  /** Starts the poller and the heartbeat (again: nothing more). */
  start(): void {
    if (this.heartbeat) {
      return;
    }
    this.loop.start();
    this.heartbeat = setInterval(() => void this.keepAlive(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Stops polling and ends every stream (the browsers reconnect to another instance). */
  async stop(): Promise<void> {
    if (this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
    await this.loop.stop();
    for (const stream of this.streams) {
      stream.body.end();
    }
    this.streams.clear();
  }

  /** A change was written here: look now instead of within the second. */
  poke(): void {
    this.loop.notify();
  }

  /**
   * Turns the request into an event stream of the clinic's changes.
   * @param ctx - a GET that passed the session and clinic checks
   */
  attach(ctx: Context, clinicId: string, stillSignedIn?: () => Promise<boolean>): void {
    const socket = ctx.req.socket;
    // A signed-in tab's stream does not count against MAX_CONNECTIONS_PER_ADDRESS (a clinic's tabs share one address).
    releaseAddressSlot(socket);
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    const body = new PassThrough();
    const stream: Stream = { clinicId, body, ...(stillSignedIn ? { stillSignedIn } : {}) };
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = body;
    body.write('retry: 2000\n: connected\n\n');
    this.streams.add(stream);
    const close = (): void => {
      this.streams.delete(stream);
      body.end();
    };
    ctx.req.once('close', close);
    body.once('error', close);
  }

  /**
   * Sends changes to the streams of their clinics (also what the poller does): one write a
   * stream for the whole batch, not one a change, so a burst costs each stream one write.
   */
  publish(changes: readonly ChangedConversation[]): void {
    const frames = new Map<string, string>();
    for (const change of changes) {
      const id = change.conversation.id;
      const clinicId = change.conversation.clinicId;
      frames.set(clinicId, `${frames.get(clinicId) ?? ''}event: ${change.change}\ndata: ${id}\n\nevent: ${id}\ndata: ${change.change}\n\n`);
    }
    if (frames.size === 0) {
      return;
    }
    for (const stream of this.streams) {
      const frame = frames.get(stream.clinicId);
      if (frame !== undefined) {
        stream.body.write(frame);
      }
    }
  }

  /**
   * A comment on every stream (proxies keep it open), and each stream's session checked
   * again without counting as activity: a tab left open on the inbox is signed out by the
   * idle timeout like any other (the browser's reconnect then gets 401).
   */
  private async keepAlive(): Promise<void> {
    await Promise.all(
      [...this.streams].map(async (stream) => {
        const ok = stream.stillSignedIn ? await stream.stillSignedIn().catch(() => false) : true;
        if (!ok) {
          this.streams.delete(stream);
          stream.body.end();
          return;
        }
        stream.body.write(': keep-alive\n\n');
      }),
    );
  }

  /**
   * One page of a look at what changed; true when a full page came (the next page at once).
   * A look reads from its start (the cursor less the overlap, for writes whose clock or
   * commit ran late) page by page in (change time, id) order until a page is short, so a
   * burst of changes larger than a page is read in full rather than re-read from its start.
   */
  private async step(): Promise<boolean> {
    if (this.streams.size === 0) {
      // Nobody watches: nothing to ask; the next stream starts from now.
      this.cursor = this.clock().getTime();
      this.seen.clear();
      this.look = null;
      return false;
    }
    this.look ??= { since: new Date(this.cursor - this.overlapMs), after: undefined };
    const rows = await this.options.conversations.changedSince(this.look.since, BATCH, this.look.after);
    const last = rows.at(-1);
    this.look = rows.length === BATCH && last ? { since: this.look.since, after: { changedAt: last.changedAt, id: last.conversation.id } } : null;
    const fresh = rows.filter((row) => {
      const at = row.changedAt.getTime();
      if ((this.seen.get(row.conversation.id) ?? -1) >= at) {
        return false;
      }
      this.seen.set(row.conversation.id, at);
      this.cursor = Math.max(this.cursor, at);
      return true;
    });
    this.publish(fresh);
    const forget = this.cursor - 2 * this.overlapMs;
    for (const [id, at] of this.seen) {
      if (at < forget) {
        this.seen.delete(id);
      }
    }
    return this.look !== null;
  }
}
