// Reading a pipe (src/cli/input.ts, StreamReader): chunk by chunk, or straight
// into the consumer's buffer (fill, src/stream/fillable.ts), or both in turn,
// the bytes come out whole and in order, whatever the writer's pace. The
// writer is another process writing a FIFO in pieces of random sizes, with
// pauses, so that reads land before, during and between fills.

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readStream } from '../src/cli/input.js';
import { asFillable, type Fillable } from '../src/stream/fillable.js';
import { workdirs } from './helpers.js';
import { fifoFeeding as feeding } from './support/fifo.js';

const workdir = workdirs('envelope-input-');
const fifoFeeding = (data: Buffer, seed: number, piece: number) => feeding(workdir(), data, seed, piece);

/** A deterministic generator of numbers in [0, 1). */
function random(seed: number): () => number {
  let state = createHash('sha256').update(String(seed)).digest();
  let at = 0;
  return () => {
    if (at + 4 > state.length) {
      state = createHash('sha256').update(state).digest();
      at = 0;
    }
    const n = state.readUInt32BE(at);
    at += 4;
    return n / 2 ** 32;
  };
}

/** Reads everything, taking chunks, fills of random sizes and more() in a random order. */
async function readMixed(fd: number, seed: number, maxFill: number): Promise<Buffer> {
  const next = random(seed);
  const iterator = readStream(fd, 'fifo')[Symbol.asyncIterator]();
  const fillable = asFillable(iterator) as Fillable;
  expect(fillable).toBeDefined();
  const out: Buffer[] = [];
  try {
    for (;;) {
      const choice = next();
      if (choice < 0.3) {
        const item = await iterator.next();
        if (item.done) break;
        out.push(Buffer.from(item.value));
      } else if (choice < 0.4) {
        if (!(await fillable.more())) {
          expect((await iterator.next()).done).toBe(true);
          break;
        }
      } else {
        const target = new Uint8Array(1 + Math.floor(next() * maxFill));
        const n = await fillable.fill(target);
        out.push(Buffer.from(target.subarray(0, n)));
        if (n < target.length) {
          // Only the end of the input fills a target short.
          expect(await fillable.more()).toBe(false);
          break;
        }
      }
    }
  } finally {
    // Closes the descriptor too (libuv closes all but 0, 1 and 2).
    await iterator.return?.();
  }
  return Buffer.concat(out);
}

describe('reading a pipe', () => {
  for (const [name, size, piece, maxFill] of [
    ['small pieces, small fills', 3 << 20, 5000, 100_000],
    ['pipe-sized pieces, batch-sized fills', 8 << 20, 200_000, 1 << 20],
    ['a trickle into large fills', 1 << 20, 3000, 1 << 20],
  ] as const) {
    for (const seed of [1, 2, 3]) {
      it(`${name} (seed ${seed}): every byte, in order`, async () => {
        const data = randomBytes(size);
        const { fd, done } = await fifoFeeding(data, seed, piece);
        const read = await readMixed(fd, seed, maxFill);
        await done;
        expect(read.length).toBe(data.length);
        expect(read.equals(data)).toBe(true);
      });
    }
  }

  it('a fill larger than the whole input returns what there is; more() then says no', async () => {
    const data = randomBytes(300_000);
    const { fd, done } = await fifoFeeding(data, 7, 70_000);
    const iterator = readStream(fd, 'fifo')[Symbol.asyncIterator]();
    const fillable = asFillable(iterator)!;
    const target = new Uint8Array(1 << 20);
    expect(await fillable.fill(target)).toBe(data.length);
    expect(Buffer.from(target.subarray(0, data.length)).equals(data)).toBe(true);
    expect(await fillable.more()).toBe(false);
    expect(await fillable.fill(new Uint8Array(10))).toBe(0);
    await iterator.return?.();
    await done;
  });
});
