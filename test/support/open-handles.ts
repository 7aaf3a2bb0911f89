/**
 * The run's last check: mocha exits on its own (no `exit: true` in .mocharc.json), so
 * anything a suite leaves open (a listening server, a MongoClient, a child process, a
 * watcher, a ref'd timer) would hang the run until CI kills it. This check runs after every
 * suite's after hooks, waits a short grace for closes already under way, and fails the run
 * with one error that names each leftover and what to close.
 *
 * A handle that is unref'd does not hold the process and is not reported.
 * `TEST_HANDLES_TRACE=1` also records where each resource was created (async_hooks; slows
 * the run) and prints the creation stack of every leftover.
 */
import { createHook, type AsyncHook } from 'node:async_hooks';
import { ChildProcess } from 'node:child_process';
import { Server, Socket } from 'node:net';

/** How long closes already under way (sockets ending, children exiting) may take. */
const GRACE_MS = 2000;
const POLL_MS = 50;
/** When something is left, the process is ended this long after the check, so mocha prints its summary first. */
const FORCED_EXIT_AFTER_MS = 1000;

interface Traced {
  type: string;
  stack: string;
  resource: WeakRef<object>;
}

let tracer: { hook: AsyncHook; live: Map<number, Traced> } | undefined;

/** Starts recording creation stacks when TEST_HANDLES_TRACE=1 (call from a root beforeAll). */
export function startHandleTrace(): void {
  if (process.env.TEST_HANDLES_TRACE !== '1' || tracer) {
    return;
  }
  const live = new Map<number, Traced>();
  const hook = createHook({
    init(id, type, _trigger, resource: object) {
      if (type === 'PROMISE') {
        return;
      }
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const raw = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      // Node's own bundled libraries (node:internal/deps, e.g. fetch's undici) stay: they can be the creator.
      const stack = raw
        .split('\n')
        .slice(1)
        .filter((line) => !/node:internal\/async_hooks|node:async_hooks|open-handles\.ts/.test(line))
        .slice(0, 12)
        .join('\n');
      live.set(id, { type, stack, resource: new WeakRef(resource) });
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  tracer = { hook, live };
}

/** Objects libuv still counts as alive (Node keeps this list for diagnostics; it has no public twin). */
function activeHandles(): unknown[] {
  const probe = process as unknown as { _getActiveHandles?: () => unknown[] };
  return probe._getActiveHandles?.() ?? [];
}

/** stdout, stderr, and stdin if something created it (read by fd: the process.stdin getter would create it). */
function isStdio(handle: unknown): boolean {
  if (handle === process.stdout || handle === process.stderr) {
    return true;
  }
  const stream = handle as { fd?: unknown; _handle?: { fd?: unknown } } | null;
  return stream?.fd === 0 || stream?._handle?.fd === 0;
}

function mongoPorts(): Set<number> {
  const ports = new Set<number>();
  const uri = process.env.MONGODB_URI ?? '';
  for (const match of uri.matchAll(/[@/,]([^:/,@?]+):(\d+)/g)) {
    ports.add(Number(match[2]));
  }
  if (ports.size === 0 && uri !== '') {
    ports.add(27017);
  }
  return ports;
}

/** One line per handle: what it is and what the suite that opened it must close. */
function describeHandle(handle: unknown): string {
  if (handle instanceof ChildProcess) {
    return `child process pid ${handle.pid ?? '?'} (${handle.spawnargs.join(' ')}): kill it and await its 'exit' event in the suite's after hook`;
  }
  if (handle instanceof Server) {
    const address = handle.address();
    const where = typeof address === 'object' && address ? `port ${address.port}` : String(address);
    return `listening server on ${where}: await server.close() in the suite's after hook (an http.Server also needs server.closeAllConnections() for keep-alive sockets)`;
  }
  if (handle instanceof Socket) {
    const remote = `${handle.remoteAddress ?? '?'}:${handle.remotePort ?? '?'}`;
    if (handle.remotePort !== undefined && mongoPorts().has(handle.remotePort)) {
      return `MongoDB connection to ${remote}: a MongoClient was not closed; call store.close() / client.close() (or the dispose() of openTestMongoStore) in the after hook, also when setup failed half-way`;
    }
    if ((handle as Socket & { server?: unknown }).server) {
      return `accepted connection from ${remote} on a test server: the client side kept it open; end the request, destroy the keep-alive agent, or call server.closeAllConnections() before server.close()`;
    }
    return `open socket to ${remote}: end or destroy it (a keep-alive http.Agent: agent.destroy()) in the suite's after hook`;
  }
  const name = (handle as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof handle;
  if (name === 'FSWatcher') {
    return `fs.watch watcher: call watcher.close() (a rules reloader: its stop()) in the suite's after hook`;
  }
  if (name === 'StatWatcher') {
    return `fs.watchFile watcher: call fs.unwatchFile() in the suite's after hook`;
  }
  return `${name}: close it in the suite's after hook`;
}

/** Everything that still holds the process, as readable lines; empty when nothing does. */
export function openHandleReport(): string[] {
  const lines = activeHandles()
    .filter((handle) => !isStdio(handle))
    .map(describeHandle);
  const info = process.getActiveResourcesInfo();
  const timers = info.filter((type) => type === 'Timeout').length;
  if (timers > 0) {
    lines.push(
      `${timers} ref'd timer(s) or interval(s): clearTimeout/clearInterval them in the stop()/close() of the object that started them, ` +
        `and call that in the suite's after hook (unref() only a background timer that must never hold the process, with a comment saying why)`,
    );
  }
  const immediates = info.filter((type) => type === 'Immediate').length;
  if (immediates > 0) {
    lines.push(`${immediates} pending setImmediate(s): something is still looping; stop it in the suite's after hook`);
  }
  // Requests in flight (file system, DNS, ...): the handles above are counted separately.
  const requests = info.filter((type) => /(Req|Request)(Wrap|Callback)$/.test(type) || type === 'FSReqPromise');
  for (const type of new Set(requests)) {
    lines.push(`${requests.filter((t) => t === type).length} unfinished ${type}: await the operation before the suite ends`);
  }
  return lines;
}

function traceReport(): string[] {
  if (!tracer) {
    return ['(run with TEST_HANDLES_TRACE=1 to see where each was created)'];
  }
  tracer.hook.disable();
  const out: string[] = [];
  for (const { type, stack, resource } of tracer.live.values()) {
    // A fired or cleared timer may still wait for its destroy callback: _destroyed says it is done.
    const alive = resource.deref() as { hasRef?: () => boolean; _destroyed?: boolean; _idleTimeout?: number; _onTimeout?: unknown } | undefined;
    if (alive?.hasRef?.() === true && alive._destroyed !== true) {
      // A timer also shows its delay and the start of its callback: enough to find it when the stack is Node's own.
      const timer =
        typeof alive._onTimeout === 'function'
          ? ` (every/after ${alive._idleTimeout} ms, callback: ${String(alive._onTimeout).replace(/\s+/g, ' ').slice(0, 160)})`
          : '';
      out.push(`${type}${timer} created\n${stack}`);
    }
  }
  return out.length > 0 ? ['where they were created:', ...out] : ['(the trace recorded no ref\'d resource still alive)'];
}

/**
 * Root after hooks that run after this check: a spec file's top-level after() joins the root
 * suite behind bootstrap's hooks, so whatever it closes is still open here.
 */
function hooksAfter(hook: Mocha.Runnable): string[] {
  const hooks = (hook.parent as unknown as { _afterAll?: Mocha.Hook[] } | undefined)?._afterAll ?? [];
  const index = hooks.indexOf(hook as Mocha.Hook);
  if (index < 0 || index === hooks.length - 1) {
    return [];
  }
  return [
    'these root after hooks run only after this check (a top-level after() in a spec file): move each into its describe',
    ...hooks.slice(index + 1).map((later) => `  - ${later.title}: ${String(later.fn).replace(/\s+/g, ' ').slice(0, 120)}`),
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fails when, after a short grace, anything but stdio still holds the process. Call from a
 * root afterAll hook, passing that hook's runnable so its own timeout timer is not counted.
 * @param hook - the running root hook (`this.runnable()`)
 */
export async function assertNoOpenHandles(hook: Mocha.Runnable): Promise<void> {
  // Mocha's timer for this very hook would be counted as a leftover; the grace bounds the hook
  // instead. Mocha starts that timer just after this function returns its promise, hence the
  // wait for one microtask before clearing it.
  await Promise.resolve();
  hook.clearTimeout();
  const deadline = Date.now() + GRACE_MS;
  let left = openHandleReport();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    left = openHandleReport();
  }
  if (left.length === 0) {
    return;
  }
  // The leftovers would keep the process alive and hang CI: end it once mocha has printed
  // its summary. unref(): if nothing is left after all, this timer holds nothing either.
  setTimeout(() => process.exit(Number(process.exitCode) || 1), FORCED_EXIT_AFTER_MS).unref();
  throw new Error(
    [
      `the tests left ${left.length} thing(s) open, which would keep mocha from exiting:`,
      ...left.map((line) => `  - ${line}`),
      ...hooksAfter(hook),
      ...traceReport(),
    ].join('\n'),
  );
}
