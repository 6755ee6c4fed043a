// Buffers handed along the data path (src/stream/buffer-pool.ts): a lent chunk
// returns to its pool when released; a buffer marked freeable is freed (its
// ArrayBuffer detached) when released; anything else, and any part of either,
// is left alone, since someone else may still hold it.

import { describe, expect, it } from 'vitest';
import { BufferPool, isLent, markFreeable, release } from '../src/stream/buffer-pool.js';

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

  it('a freeable buffer is freed when released whole, and not before', () => {
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
});
