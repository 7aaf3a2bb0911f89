/**
 * Signed requests rendered ahead of a paced run as the exact bytes the paced driver writes,
 * kept in Buffers outside the V8 heap.
 *
 * As SignedRequest objects, a pool for a minute at 5,000 req/s was a few hundred MB of
 * strings and objects in the load generator's own heap, promoted while the run went on.
 * V8's full collections there paused the load generator for 50–580 ms, and the paced driver
 * times each request from its scheduled send time, so those pauses were counted as the
 * server's latency. In Buffers the garbage collector never looks at them.
 */
import type { RequestMix } from './request-mix.js';
import { requestBytes } from './paced-load.js';

const CHUNK_BYTES = 8 * 1024 * 1024;

export class RequestBytesPool {
  private readonly chunks: Buffer[] = [];
  private readonly chunkOf: Uint32Array;
  private readonly starts: Uint32Array;
  private readonly lengths: Uint32Array;
  private cursor = 0;

  /**
   * Signs and renders `count` requests of the mix.
   * @param host - the Host header (127.0.0.1:port)
   * @param mix - the request stream
   * @param count - how many
   */
  constructor(host: string, mix: RequestMix, count: number) {
    this.chunkOf = new Uint32Array(count);
    this.starts = new Uint32Array(count);
    this.lengths = new Uint32Array(count);
    let chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    let used = 0;
    this.chunks.push(chunk);
    for (let i = 0; i < count; i++) {
      const text = requestBytes(host, mix.next());
      const length = Buffer.byteLength(text);
      if (used + length > chunk.length) {
        chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, length));
        used = 0;
        this.chunks.push(chunk);
      }
      chunk.write(text, used, length, 'utf8');
      this.chunkOf[i] = this.chunks.length - 1;
      this.starts[i] = used;
      this.lengths[i] = length;
      used += length;
    }
  }

  /** Requests in the pool. */
  get size(): number {
    return this.lengths.length;
  }

  /** The next request's bytes, or undefined once the pool is used up. */
  take(): Buffer | undefined {
    const i = this.cursor;
    if (i >= this.lengths.length) {
      return undefined;
    }
    this.cursor += 1;
    const start = this.starts[i] as number;
    return (this.chunks[this.chunkOf[i] as number] as Buffer).subarray(start, start + (this.lengths[i] as number));
  }
}
