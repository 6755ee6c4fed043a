// Buffers handed along the data path (src/stream/buffer-pool.ts): a lent chunk
// returns to its pool when released; a buffer marked freeable is freed (its
// ArrayBuffer detached) when released; anything else, and any part of either,
// is left alone, since someone else may still hold it.

import { describe, expect, it } from 'vitest';
import { BufferPool, isLent, markFreeable, release } from '../src/stream/buffer-pool.js';
import { LEFT_TO_THE_COLLECTOR } from '../src/stream/free-memory.js';

describe('buffer pool', () => {
  it('a released chunk is lent again; a part of one is not taken back', () => {
    const pool = new BufferPool(1024, 2);
    const memory = pool.takeArrayBuffer();
    const chunk = pool.lend(memory, 100);
    expect(isLent(chunk)).toBe(true);
    release(chunk.subarray(0, 50));
    expect(pool.takeArrayBuffer()).not.toBe(memory);
    release(chunk);
    expect(pool.takeArrayBuffer()).toBe(memory);
  });

  it('the first few MiB of freeable buffers are left to the collector', () => {
    // This file's module state is fresh (vitest isolates test files): nothing was freed before.
    const first = markFreeable(Buffer.alloc(LEFT_TO_THE_COLLECTOR - 1));
    release(first);
    expect(first.length).toBe(LEFT_TO_THE_COLLECTOR - 1);
  });

  it('a freeable buffer is freed when released whole, and not before', () => {
    // Past the first few MiB (the test before): from here on, released buffers are freed.
    release(markFreeable(Buffer.alloc(LEFT_TO_THE_COLLECTOR)));
    // Buffer.alloc gives the buffer an ArrayBuffer of its own (Buffer.from(string) may slice a shared one).
    const buffer = Buffer.alloc(64);
    buffer.write('frame plaintext, handed over');
    markFreeable(buffer);
    const copy = Buffer.from(buffer);
    release(buffer.subarray(1));
    expect(buffer.equals(copy)).toBe(true);
    release(buffer);
    expect(buffer.buffer.byteLength).toBe(0);
    expect(buffer.length).toBe(0);
  });

  it('leaves alone what was never marked, and slices of shared memory even if marked', () => {
    const own = Buffer.alloc(64, 1);
    release(own);
    expect(own.length).toBe(64);
    const shared = new Uint8Array(new ArrayBuffer(128), 0, 64);
    release(markFreeable(shared));
    expect(shared.buffer.byteLength).toBe(128);
    expect(shared.length).toBe(64);
  });

  describe('wipes what a buffer held, when it is dropped or the pool closes', () => {
    const filled = (pool: BufferPool, bytes: number) => {
      const memory = pool.takeArrayBuffer();
      new Uint8Array(memory, 0, bytes).fill(0xaa);
      return memory;
    };
    /** Bytes of the first `bytes` not wiped (past what was written, a new buffer holds whatever malloc left). */
    const held = (memory: ArrayBuffer, bytes = memory.byteLength) => new Uint8Array(memory, 0, bytes).filter((b) => b !== 0).length;

    it('what was lent, once released and the pool closed', () => {
      const pool = new BufferPool(1024, 2);
      const memory = filled(pool, 100);
      release(pool.lend(memory, 100));
      pool.close();
      expect(held(memory, 100)).toBe(0);
    });

    it('what give() was told was written, when the pool is full', () => {
      const pool = new BufferPool(1024, 0);
      const memory = filled(pool, 300);
      pool.give(memory, 300);
      expect(held(memory, 300)).toBe(0);
    });

    it('the most that was ever written into a reused buffer, not only the last fill', () => {
      const pool = new BufferPool(1024, 1);
      const memory = filled(pool, 900);
      release(pool.lend(memory, 900));
      expect(pool.takeArrayBuffer()).toBe(memory);
      release(pool.lend(memory, 10));
      pool.close();
      expect(held(memory, 900)).toBe(0);
    });

    it('all of a buffer given back untold, or one the pool did not make (back from a worker)', () => {
      const pool = new BufferPool(1024, 2);
      const untold = filled(pool, 1024);
      pool.give(untold);
      const stranger = new ArrayBuffer(1024);
      new Uint8Array(stranger).fill(0xaa);
      pool.give(stranger, 0);
      pool.close();
      expect(held(untold)).toBe(0);
      expect(held(stranger)).toBe(0);
    });
  });
});
