// Framed encryption of a plaintext stream (data-format/message-body.md): cut the
// input into frames of frameLength bytes, seal each with AES-GCM under its own
// sequence number, and mark the last one final. A plaintext that is an exact
// multiple of the frame length ends with a full final frame (as the ESDKs write
// it); an empty plaintext is a single empty final frame.

import { createCipheriv } from 'node:crypto';
import { UsageError } from '../errors.js';
import { FINAL_FRAME_MARKER, MAX_FRAMES, TAG_LENGTH } from '../format/constants.js';
import { bodyAad, FINAL_FRAME_HEADER_LENGTH, frameIv, REGULAR_FRAME_HEADER_LENGTH } from '../format/frame.js';
import type { AlgorithmSuite } from '../format/suites.js';
import { markFreeable, release } from './buffer-pool.js';
import type { FramePool } from './frame-pool.js';
import { canRunInParallel, defaultParallelOptions, type ParallelOptions, startFramePool, workerLocation } from './parallel.js';
import { sealInParallel } from './seal-parallel.js';

export interface SealParams {
  readonly suite: AlgorithmSuite;
  readonly key: Uint8Array;
  readonly messageId: Uint8Array;
  readonly frameLength: number;
}

/**
 * Seals one frame as its three parts: frame header, ciphertext, tag. Kept apart
 * (the writer gathers them with writev) so a frame costs one large allocation,
 * the ciphertext, rather than two.
 */
export function sealFrameParts(p: SealParams, sequenceNumber: number, plaintext: Uint8Array, final: boolean): Buffer[] {
  const iv = frameIv(sequenceNumber);
  const cipher = createCipheriv(p.suite.cipher, p.key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(bodyAad(p.messageId, final ? 'FinalFrame' : 'Frame', sequenceNumber, plaintext.length));
  const header = Buffer.allocUnsafe(final ? FINAL_FRAME_HEADER_LENGTH : REGULAR_FRAME_HEADER_LENGTH);
  let at = 0;
  if (final) at = header.writeUInt32BE(FINAL_FRAME_MARKER, at);
  at = header.writeUInt32BE(sequenceNumber, at);
  at += iv.copy(header, at);
  if (final) header.writeUInt32BE(plaintext.length, at);
  // The writer frees each frame's ciphertext once written (buffer-pool.ts).
  const ciphertext = markFreeable(cipher.update(plaintext));
  cipher.final(); // GCM: no output
  return [header, ciphertext, cipher.getAuthTag()];
}

/** Seals one frame into a single buffer: frame header, ciphertext, tag. */
export function sealFrame(p: SealParams, sequenceNumber: number, plaintext: Uint8Array, final: boolean): Buffer {
  return Buffer.concat(sealFrameParts(p, sequenceNumber, plaintext, final));
}

/**
 * Yields the sealed frames of the input, each as its parts (see sealFrameParts).
 * Once more than `parallel.threshold` bytes have gone by, worker threads are
 * started; when they are running, the rest is sealed by them (seal-parallel.ts),
 * in batches, with the same bytes as a result.
 */
export async function* sealFrames(
  input: AsyncIterable<Uint8Array>,
  p: SealParams,
  parallel: ParallelOptions = defaultParallelOptions(),
): AsyncGenerator<Buffer> {
  const source = input[Symbol.asyncIterator]();
  let sourceDone = false;
  let sequenceNumber = 1;
  // `pending` is a full frame that is final only if the input ends right after it.
  let pending: Buffer | undefined;
  let current: Buffer = Buffer.allocUnsafe(p.frameLength);
  let fill = 0;
  const next = () => {
    if (sequenceNumber >= MAX_FRAMES) throw new UsageError('input is too large for this frame size: use a larger --frame-size');
    return sequenceNumber++;
  };
  const workers = canRunInParallel(parallel, p.frameLength) ? workerLocation(parallel) : undefined;
  let pool: FramePool | undefined;
  let poolRequested = false;
  let seen = 0;

  try {
    for (;;) {
      if (workers && !poolRequested && seen > parallel.threshold) {
        poolRequested = true;
        pool = await startFramePool(parallel, workers);
      }
      if (pool) {
        const held = [...(pending ? [pending] : []), current.subarray(0, fill)];
        yield* sealInParallel(held, source, p, sequenceNumber, pool);
        sourceDone = true;
        return;
      }
      const item = await source.next();
      if (item.done) {
        sourceDone = true;
        break;
      }
      const chunk = item.value;
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(chunk.length - at, p.frameLength - fill);
        current.set(chunk.subarray(at, at + take), fill);
        fill += take;
        at += take;
        if (fill === p.frameLength) {
          if (pending) {
            yield* sealFrameParts(p, next(), pending, false);
            const recycled = pending;
            pending = current;
            current = recycled;
          } else {
            pending = current;
            current = Buffer.allocUnsafe(p.frameLength);
          }
          fill = 0;
        }
      }
      seen += chunk.length;
      release(chunk);
    }
    if (pending && fill > 0) yield* sealFrameParts(p, next(), pending, false);
    yield* fill > 0 || !pending ? sealFrameParts(p, next(), current.subarray(0, fill), true) : sealFrameParts(p, next(), pending, true);
  } finally {
    if (!sourceDone) await source.return?.();
    current.fill(0);
    pending?.fill(0);
  }
}
