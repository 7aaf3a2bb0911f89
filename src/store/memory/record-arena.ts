/** Bytes per chunk: a few hundred records each. */
const CHUNK_BYTES = 1 << 20;
/** Each entry starts with its length. */
const HEADER_BYTES = 4;
/** Emptied chunks kept for reuse. */
const MAX_SPARES = 2;

/**
 * Texts kept as UTF-8 bytes in 1 MB chunks outside the V8 heap, each found again by a
 * number (its handle). What the embedded store keeps its finished audit records in: as JS
 * strings, every record was promoted to the old generation and became garbage there when the
 * store's bound let it go, so full collections came every few seconds under load and each one
 * slowed the requests around it. Here a record costs the garbage collector nothing; a chunk
 * is returned when its last live entry is released. Entries are written at the end, and
 * released mostly in the order they were written (oldest first), so chunks empty in turn.
 *
 * An emptied chunk is kept for the next one the arena needs (up to MAX_SPARES). At the
 * store's bound chunks empty as fast as new ones fill, so it stops allocating. Allocating a
 * fresh 1 MB chunk each time counted as external memory to V8, which starts a full
 * collection when that grows by 64 MB: about every 14 s under the bench's load, whatever
 * the heap's own size.
 */
export class RecordArena {
  /** Chunks by slot; a released chunk's slot is reused. */
  private readonly chunks: Array<Buffer | undefined> = [];
  /** Live entries per slot. */
  private readonly live: number[] = [];
  private readonly freeSlots: number[] = [];
  /** Emptied standard-size chunks, for reuse. */
  private readonly spares: Buffer[] = [];
  private allocated = 0;
  private tail = -1;
  private tailOffset = 0;

  /**
   * Keeps `text`; returns its handle.
   * @param text - any string
   */
  put(text: string): number {
    const bytes = Buffer.byteLength(text, 'utf8');
    const need = HEADER_BYTES + bytes;
    let slot: number;
    let offset: number;
    if (need > CHUNK_BYTES / 4) {
      // A large entry gets a chunk of its own, so it never strands most of a shared one.
      slot = this.newChunk(need);
      offset = 0;
    } else {
      if (this.tail < 0 || this.tailOffset + need > CHUNK_BYTES) {
        const previous = this.tail;
        this.tail = this.newChunk(CHUNK_BYTES);
        this.tailOffset = 0;
        if (previous >= 0 && this.live[previous] === 0) {
          this.freeChunk(previous);
        }
      }
      slot = this.tail;
      offset = this.tailOffset;
      this.tailOffset += need;
    }
    const chunk = this.chunks[slot] as Buffer;
    chunk.writeUInt32LE(bytes, offset);
    chunk.write(text, offset + HEADER_BYTES, bytes, 'utf8');
    this.live[slot] = (this.live[slot] ?? 0) + 1;
    return slot * CHUNK_BYTES + offset;
  }

  /**
   * The text kept under `handle` (which must not have been released).
   * @param handle - from put()
   */
  get(handle: number): string {
    const { chunk, offset } = this.locate(handle);
    const bytes = chunk.readUInt32LE(offset);
    return chunk.toString('utf8', offset + HEADER_BYTES, offset + HEADER_BYTES + bytes);
  }

  /**
   * Forgets the entry under `handle`; its chunk goes back when nothing in it is live.
   * @param handle - from put(), released once
   */
  release(handle: number): void {
    const slot = Math.floor(handle / CHUNK_BYTES);
    this.locate(handle);
    const left = (this.live[slot] as number) - 1;
    this.live[slot] = left;
    if (left === 0 && slot !== this.tail) {
      this.freeChunk(slot);
    }
  }

  private freeChunk(slot: number): void {
    const chunk = this.chunks[slot];
    if (chunk?.length === CHUNK_BYTES && this.spares.length < MAX_SPARES) {
      this.spares.push(chunk);
    }
    this.chunks[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /** Bytes held in chunks (live entries, the dead ones that share a chunk with them, and spare chunks). */
  get heldBytes(): number {
    let n = this.spares.length * CHUNK_BYTES;
    for (const chunk of this.chunks) {
      n += chunk?.length ?? 0;
    }
    return n;
  }

  /** Chunks allocated so far (reused ones are not counted again). */
  get allocatedChunks(): number {
    return this.allocated;
  }

  private locate(handle: number): { chunk: Buffer; offset: number } {
    const slot = Math.floor(handle / CHUNK_BYTES);
    const chunk = this.chunks[slot];
    if (!chunk || !((this.live[slot] as number) > 0)) {
      throw new RangeError(`no record arena entry at ${handle}`);
    }
    return { chunk, offset: handle - slot * CHUNK_BYTES };
  }

  /** A chunk of `size` bytes, in a free slot. */
  private newChunk(size: number): number {
    // Off the heap and unpooled: Buffer.allocUnsafe would carve small ones out of a shared slab.
    let chunk = size === CHUNK_BYTES ? this.spares.pop() : undefined;
    if (!chunk) {
      chunk = Buffer.allocUnsafeSlow(size);
      this.allocated += 1;
    }
    const slot = this.freeSlots.pop() ?? this.chunks.length;
    this.chunks[slot] = chunk;
    this.live[slot] = 0;
    return slot;
  }
}
