// Reused buffers for the bulk data paths (input reads, frame batches), so that
// a 1 GiB run does not allocate 1 GiB of short-lived buffers.
//
// Why it matters: V8 frees an ArrayBuffer's memory only when a garbage
// collection finds it dead, and it starts a young-generation collection for
// that reason only once about 32 MiB of new backing stores have piled up in an
// isolate (Heap::AllocateExternalBackingStore; not tunable by the semi-space
// flags, measured). A fresh buffer per read or per frame therefore costs a
// standing ~32 MiB of garbage, most of the RSS gap between `node -e 0` and a
// large encrypt. A pooled buffer is never garbage.
//
// The protocol: a producer lends a chunk backed by a pooled ArrayBuffer (one
// chunk per ArrayBuffer); the last consumer, once it has copied or written the
// bytes and kept no view of them, calls release(chunk) and the memory is read
// into again. Only the whole chunk releases: a consumer handed a piece of one
// (ByteReader.pass) cannot free the rest from under its owner. A consumer that never releases costs only an allocation, as
// before: the pool then makes a new buffer. release() of any other chunk does
// nothing, so consumers may call it on whatever they receive.
//
// A producer may also hand over a buffer of its own that nothing else holds
// (node:crypto's output for one frame): markFreeable(buffer), and the last
// consumer's release() frees its memory at once (free-memory.ts).

import { freeMemory, spansItsMemory } from './free-memory.js';

/**
 * Bytes of lent chunks that a writer may still hold, unreleased (src/cli/output.ts:
 * the batch being written and the queue behind it). A pool whose chunks go to
 * a writer keeps this many bytes of buffers beyond its own working set: with
 * fewer, each chunk the writer holds makes the pool allocate a new buffer, and
 * those it cannot keep on their return become garbage (measured through
 * pipes: ~30 MiB of RSS).
 */
export const WRITER_HOLDS = 4 * 1024 * 1024;

/** Buffers of `byteLength` bytes enough to cover what a writer holds. */
export function buffersHeldByWriter(byteLength: number): number {
  return Math.ceil(WRITER_HOLDS / byteLength);
}

/** ArrayBuffers of buffers handed over by markFreeable, to be freed when released. */
const freeable = new WeakSet<ArrayBufferLike>();

/**
 * Marks `buffer`, which its producer hands over and keeps no view of, to be
 * freed by release() once consumed. Returns it, for use in an expression.
 */
export function markFreeable<T extends Uint8Array>(buffer: T): T {
  // Only a buffer with an ArrayBuffer of its own: never a slice of a shared one.
  if (spansItsMemory(buffer)) freeable.add(buffer.buffer);
  return buffer;
}

/** Which pool lent each ArrayBuffer that is out on loan, and the length of the chunk it was lent as. */
const lenders = new WeakMap<ArrayBufferLike, { readonly pool: BufferPool; readonly length: number }>();

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private closed = false;
  /**
   * How many bytes at the start of each buffer may hold data, which is what a
   * wipe must cover: a 1 MiB read buffer that took a 1 KiB secret is wiped in
   * 1 KiB, not by touching (and so faulting in) all of its pages. A buffer
   * missing here (one back from a worker thread is a new object) is wiped whole.
   */
  private readonly used = new WeakMap<ArrayBuffer, number>();

  /**
   * @param byteLength size of every buffer of the pool
   * @param keep most buffers kept for reuse; more than that come back to be dropped
   */
  constructor(
    readonly byteLength: number,
    private readonly keep: number,
  ) {}

  /**
   * A buffer to fill, for the pool's own use (not yet lent). Whatever is
   * written into it must be counted when it comes back: by lend()'s length or
   * give()'s `written`.
   */
  takeArrayBuffer(): ArrayBuffer {
    const reused = this.free.pop();
    if (reused) return reused;
    const fresh = Buffer.allocUnsafeSlow(this.byteLength).buffer as ArrayBuffer;
    this.used.set(fresh, 0);
    return fresh;
  }

  /** Lends the first `length` bytes of `buffer` as a chunk: release() of that chunk brings the buffer back. */
  lend(buffer: ArrayBuffer, length = buffer.byteLength): Buffer {
    this.wrote(buffer, length);
    lenders.set(buffer, { pool: this, length });
    return Buffer.from(buffer, 0, length);
  }

  /**
   * Takes a buffer back for reuse (or drops it: wrong size, pool full, pool
   * closed), `written` bytes of it filled since it was taken (all, unless told).
   */
  give(buffer: ArrayBuffer, written = buffer.byteLength): void {
    if (buffer.byteLength !== this.byteLength) return;
    this.wrote(buffer, written);
    if (this.closed || this.free.length >= this.keep) {
      // It may hold plaintext: leave nothing behind in memory we no longer track.
      this.wipe(buffer);
      return;
    }
    this.free.push(buffer);
  }

  /** Wipes and drops the free buffers; buffers released later are wiped and dropped too. */
  close(): void {
    this.closed = true;
    for (const b of this.free) this.wipe(b);
    this.free.length = 0;
  }

  private wrote(buffer: ArrayBuffer, bytes: number): void {
    const before = this.used.get(buffer);
    if (before !== undefined && bytes > before) this.used.set(buffer, bytes);
  }

  private wipe(buffer: ArrayBuffer): void {
    new Uint8Array(buffer, 0, this.used.get(buffer) ?? buffer.byteLength).fill(0);
    this.used.delete(buffer);
  }
}

/**
 * Gives the memory behind `chunk` back to the pool that lent it, if `chunk` is
 * a lent chunk as it was lent, or frees it if it was marked freeable; a part
 * of either (a view someone cut from it, who may still hold the rest) does
 * nothing. The caller promises not to use the chunk afterwards.
 */
export function release(chunk: Uint8Array): void {
  if (isLent(chunk)) releaseMemory(chunk.buffer);
  else if (freeable.has(chunk.buffer) && spansItsMemory(chunk)) {
    freeable.delete(chunk.buffer);
    freeMemory(chunk);
  }
}

/** Whether `chunk` is a lent chunk as it was lent (not a part of one). */
export function isLent(chunk: Uint8Array): boolean {
  const loan = lenders.get(chunk.buffer);
  return !!loan && chunk.byteOffset === 0 && chunk.byteLength === loan.length;
}

/**
 * Gives lent memory back whatever views of it exist: for a consumer that
 * received the chunk whole (isLent) and knows every view it cut from it is
 * done with (ByteReader.copyTo).
 */
export function releaseMemory(buffer: ArrayBufferLike): void {
  const loan = lenders.get(buffer);
  if (!loan) return;
  lenders.delete(buffer);
  // A lent chunk's consumers only read it: what was written is what was lent.
  loan.pool.give(buffer as ArrayBuffer, loan.length);
}
