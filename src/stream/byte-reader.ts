// Exact-length reads over an async stream of chunks. Reads that fall inside
// one chunk return a view without copying; reads across chunks copy once.

import { IntegrityError } from '../errors.js';
import { isLent, releaseMemory } from './buffer-pool.js';
import { asHandsOver, type HandedOver } from './hand-over.js';

/** What a message cut short inside `what` is told: the same from every path that reads it. */
export function truncated(what: string): string {
  return `message is truncated (it ends inside the ${what})`;
}

export class ByteReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Total bytes consumed so far. */
  position = 0;
  /** Called with every consumed byte range, in order (the signature hash taps here). */
  observer: ((bytes: Uint8Array) => void) | undefined;
  /**
   * While set, lent chunks read from the source (whole: buffer-pool.ts) are
   * released to their pool once copyTo has consumed their last byte. Only a
   * caller that keeps no view from read() across a later read may set it;
   * chunks read before it was set (the header's fields are views of them) are
   * never released.
   */
  releaseCopied = false;
  private readonly releasable = new WeakSet<ArrayBufferLike>();

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Buffers until at least n bytes are available; false when the input ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      if (next.value.length === 0) continue;
      const b = Buffer.isBuffer(next.value)
        ? next.value
        : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (this.releaseCopied && isLent(b)) this.releasable.add(b.buffer);
      this.chunks.push(b);
      this.buffered += b.length;
    }
    return this.buffered >= n;
  }

  /**
   * Everything buffered, as one contiguous view (not consumed). Chunks are
   * gathered into a buffer with spare room that doubles as it fills, so peeking
   * again after each new chunk costs the new bytes, not everything again.
   */
  peek(): Buffer {
    if (this.chunks.length > 1) {
      const first = this.chunks[0]!;
      const room = this.gathered;
      let target: Buffer;
      let at: number;
      if (room && first.buffer === room.buffer && first.byteOffset === room.byteOffset && room.length >= this.buffered) {
        target = room;
        at = first.length;
        for (const c of this.chunks.slice(1)) at += c.copy(target, at);
      } else {
        target = Buffer.allocUnsafe(Math.max(this.buffered, 2 * first.length));
        at = 0;
        for (const c of this.chunks) at += c.copy(target, at);
      }
      this.gathered = target;
      this.chunks = [target.subarray(0, at)];
    }
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The first buffered chunk, as it arrived (not consumed); empty when nothing is buffered. */
  firstChunk(): Buffer {
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The buffer peek() gathers into, while its start is still the first buffered byte. */
  private gathered: Buffer | undefined;

  get available(): number {
    return this.buffered;
  }

  /** Consumes exactly n bytes; `what` names the field in the truncation error. */
  async read(n: number, what: string): Promise<Buffer> {
    if (!(await this.fill(n))) {
      throw new IntegrityError(truncated(what));
    }
    return this.consume(n);
  }

  /** Consumes n bytes that are already buffered. */
  consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const take = Math.min(c.length, n - at);
        c.copy(out, at, 0, take);
        at += take;
        if (take === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(take);
      }
    }
    this.buffered -= n;
    this.position += n;
    this.observer?.(out);
    return out;
  }

  /** Consumes n bytes, yielding them as views of the buffered chunks (no copy). */
  async *pass(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill(1))) throw new IntegrityError(truncated(what));
      const c = this.chunks[0]!;
      const take = Math.min(c.length, left);
      const piece = c.subarray(0, take);
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
      this.buffered -= take;
      this.position += take;
      left -= take;
      this.observer?.(piece);
      yield piece;
    }
  }

  /** Consumes n bytes into target at `at`, copying straight from the buffered chunks. */
  async copyTo(target: Uint8Array, at: number, n: number, what: string): Promise<void> {
    while (n > this.buffered) {
      const take = this.buffered;
      this.copyBuffered(target, at, take);
      at += take;
      n -= take;
      if (!(await this.fill(1))) throw new IntegrityError(truncated(what));
    }
    this.copyBuffered(target, at, n);
  }

  /**
   * copyTo for n bytes that are already buffered (n ≤ available), without
   * waiting: a caller that reads many small fields saves a promise per field.
   */
  copyBuffered(target: Uint8Array, at: number, n: number): void {
    while (n > 0) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n);
      const piece = c.subarray(0, take);
      target.set(piece, at);
      at += take;
      n -= take;
      this.buffered -= take;
      this.position += take;
      this.observer?.(piece);
      if (take === c.length) {
        this.chunks.shift();
        if (this.releasable.has(c.buffer)) releaseMemory(c.buffer);
      } else {
        this.chunks[0] = c.subarray(take);
      }
    }
  }

  /** Whether the source may hand its descriptor over (hand-over.ts): a thread may be started to read it. */
  get mayHandOver(): boolean {
    return !this.ended && !this.observer && asHandsOver(this.source) !== undefined;
  }

  /**
   * Hands the source's descriptor over (hand-over.ts), what is buffered here
   * going first; nothing is read here after, and this reader is at its end.
   * Undefined when the source keeps it, or when an observer must see every byte.
   */
  handOver(): HandedOver | undefined {
    if (!this.mayHandOver) return undefined;
    const handed = asHandsOver(this.source)?.handOver();
    if (!handed) return undefined;
    const held = [...this.chunks, ...handed.held];
    this.chunks = [];
    this.buffered = 0;
    this.ended = true;
    return { ...handed, held };
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Stops reading: the source is returned (a file's descriptor closed) and what is buffered dropped. */
  async close(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    this.ended = true;
    await this.source.return?.();
  }

  async u32(what: string): Promise<number> {
    return (await this.read(4, what)).readUInt32BE(0);
  }

  async u16(what: string): Promise<number> {
    return (await this.read(2, what)).readUInt16BE(0);
  }
}
