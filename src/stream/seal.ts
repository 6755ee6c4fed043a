// Framed encryption of a plaintext stream (data-format/message-body.md): cut the
// input into frames of frameLength bytes, seal each with AES-GCM under its own
// sequence number, and mark the last one final. A plaintext that is an exact
// multiple of the frame length ends with a full final frame (as the ESDKs write
// it); an empty plaintext is a single empty final frame.

import type { AlgorithmSuite } from '../format/suites.js';
import { markFreeable, release } from './buffer-pool.js';
import type { DirectOutput } from './direct-output.js';
import { asHandsOver } from './hand-over.js';
import { canRunInParallel, defaultParallelOptions, type ParallelOptions, workerLocation } from './parallel.js';
import { exceedsFrameLimit, type FrameKey, sealFrameParts, tooManyFrames } from './seal-frame.js';
import { sealFromRing } from './seal-from-ring.js';
import { sealInParallel } from './seal-parallel.js';
import { type StartedWorkers, WorkerStart } from './worker-start.js';

export interface SealParams {
  readonly suite: AlgorithmSuite;
  readonly key: Uint8Array;
  readonly messageId: Uint8Array;
  readonly frameLength: number;
}

/** What sealing a frame of this message needs. */
function frameKey(p: SealParams): FrameKey {
  return { cipher: p.suite.cipher, key: p.key, messageId: p.messageId };
}

/**
 * One frame's parts (seal-frame.ts), its ciphertext marked for the writer to
 * free once written (buffer-pool.ts).
 */
function sealedParts(k: FrameKey, sequenceNumber: number, plaintext: Uint8Array, final: boolean): Buffer[] {
  const parts = sealFrameParts(k, sequenceNumber, plaintext, final);
  markFreeable(parts[1]!);
  return parts;
}

/** Seals one frame into a single buffer: frame header, ciphertext, tag. */
export function sealFrame(p: SealParams, sequenceNumber: number, plaintext: Uint8Array, final: boolean): Buffer {
  return Buffer.concat(sealFrameParts(frameKey(p), sequenceNumber, plaintext, final));
}

/**
 * Yields the sealed frames of the input, each as its parts (see sealFrameParts).
 * Once more than `parallel.threshold` bytes have gone by, worker threads are
 * started (this thread goes on sealing meanwhile: worker-start.ts); once they
 * run, the rest is sealed by them (seal-parallel.ts),
 * in batches, with the same bytes as a result: yielded, or written by the
 * workers to `direct` when the consumer offers it (direct-output.ts). A pipe
 * whose reader hands it over (hand-over.ts) is then read by a thread of its
 * own, and the workers seal from what it reads (seal-from-ring.ts).
 */
export async function* sealFrames(
  input: AsyncIterable<Uint8Array>,
  p: SealParams,
  parallel: ParallelOptions = defaultParallelOptions(),
  direct?: DirectOutput,
): AsyncGenerator<Buffer> {
  const k = frameKey(p);
  const source = input[Symbol.asyncIterator]();
  let sourceDone = false;
  let sequenceNumber = 1;
  // `pending` is a full frame that is final only if the input ends right after it.
  let pending: Buffer | undefined;
  let current: Buffer = Buffer.allocUnsafe(p.frameLength);
  let fill = 0;
  const next = () => {
    if (exceedsFrameLimit(sequenceNumber, 1)) throw tooManyFrames();
    return sequenceNumber++;
  };
  const workers = canRunInParallel(parallel, p.frameLength) ? workerLocation(parallel) : undefined;
  let starting: WorkerStart | undefined;
  let started: StartedWorkers | undefined;
  let seen = 0;

  try {
    for (;;) {
      // For a pipe that can be read by a thread of its own (hand-over.ts) while
      // the workers write the output, a reader thread is started beside them.
      if (workers && !starting && seen > parallel.threshold) {
        starting = new WorkerStart(parallel, workers, !!direct && !!asHandsOver(source));
        if (parallel.waitForWorkers) await starting.settled();
      }
      started = starting?.take();
      if (started) {
        const { pool, reader } = started;
        const held = [...(pending ? [pending] : []), current.subarray(0, fill)];
        const handed = reader && direct ? asHandsOver(source)?.handOver() : undefined;
        if (handed) await sealFromRing(held, handed, reader!, p, sequenceNumber, pool, direct!);
        else yield* sealInParallel(held, source, p, sequenceNumber, pool, direct);
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
            yield* sealedParts(k, next(), pending, false);
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
    if (pending && fill > 0) yield* sealedParts(k, next(), pending, false);
    yield* fill > 0 || !pending ? sealedParts(k, next(), current.subarray(0, fill), true) : sealedParts(k, next(), pending, true);
  } finally {
    started?.reader?.close();
    starting?.discard();
    if (!sourceDone) await source.return?.();
    current.fill(0);
    pending?.fill(0);
  }
}
