import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWatcher, folderOf, type WatchedSource } from '../../../src/config/file-watch.js';
import { createLogger } from '../../../src/logger.js';

/** A source whose reloads take `ms` and record when they overlap. */
function countingSource(file: string, ms: number, opts: { watchFolder?: boolean } = {}): WatchedSource<number> & { reloads: number; overlaps: number; done: Array<() => void> } {
  let active = 0;
  const source = {
    name: 'test file',
    reloads: 0,
    overlaps: 0,
    done: [] as Array<() => void>,
    folders: () => (opts.watchFolder === false ? [] : [folderOf(file)]),
    files: async () => [file],
    reload: async (): Promise<number> => {
      active += 1;
      if (active > 1) {
        source.overlaps += 1;
      }
      await new Promise((r) => setTimeout(r, ms));
      active -= 1;
      source.reloads += 1;
      return source.reloads;
    },
    onReload: () => source.done.splice(0).forEach((d) => d()),
  };
  return source;
}

const nextReload = (source: { done: Array<() => void> }): Promise<void> => new Promise((resolve) => source.done.push(resolve));

describe('the file watcher (one for every reloadable file)', function () {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'file-watch-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when reloads are asked for while one runs, then they never overlap and exactly one more follows', async () => {
    const file = join(dir, 'a.yaml');
    const source = countingSource(file, 50);
    const watcher = new FileWatcher({ logger: createLogger('silent'), watch: false });
    const reloader = watcher.add(source);
    watcher.start();
    const first = reloader.reload('one');
    const more = [reloader.reload('two'), reloader.reload('three'), reloader.reload('four')];
    expect(await first).to.equal(1);
    expect(await Promise.all(more)).to.deep.equal([2, 2, 2]);
    await reloader.settled();
    expect(source.reloads).to.equal(2);
    expect(source.overlaps).to.equal(0);
    await watcher.stop();
  });

  it('when SIGHUP arrives, then every source reloads, without watching; after stop, SIGHUP is no longer heard', async () => {
    const signals = new EventEmitter();
    const a = countingSource(join(dir, 'a.yaml'), 1);
    const b = countingSource(join(dir, 'b.yaml'), 1);
    const watcher = new FileWatcher({ logger: createLogger('silent'), watch: false, signals: signals as unknown as Pick<NodeJS.Process, 'on' | 'off'> });
    watcher.add(a);
    watcher.add(b);
    watcher.start();
    const both = Promise.all([nextReload(a), nextReload(b)]);
    signals.emit('SIGHUP');
    await both;
    expect([a.reloads, b.reloads]).to.deep.equal([1, 1]);
    await watcher.stop();
    expect(signals.listenerCount('SIGHUP')).to.equal(0);
  });

  it('when the file changes, then fs.watch on its folder reloads it after a quiet period', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, 'a: 1\n');
    const source = countingSource(file, 1);
    const watcher = new FileWatcher({ logger: createLogger('silent'), watch: true, debounceMs: 20, pollMs: 0 });
    watcher.add(source);
    watcher.start();
    const reloaded = nextReload(source);
    await writeFile(file, 'a: 2\n');
    await reloaded;
    expect(source.reloads).to.equal(1);
    await watcher.stop();
  });

  it('when fs.watch sees nothing (no folder watch), then the size/time poll notices the change', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, 'a: 1\n');
    const source = countingSource(file, 1, { watchFolder: false });
    const watcher = new FileWatcher({ logger: createLogger('silent'), watch: true, debounceMs: 10, pollMs: 30 });
    watcher.add(source);
    watcher.start();
    await new Promise((r) => setTimeout(r, 60));
    expect(source.reloads).to.equal(0);
    const reloaded = nextReload(source);
    await writeFile(file, 'a: 22\n');
    await reloaded;
    expect(source.reloads).to.equal(1);
    await watcher.stop();
  });
});
