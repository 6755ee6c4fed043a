// Framed encryption on worker threads: the rest of a plaintext, from a frame
// boundary on, cut into batches of whole frames that workers seal while this
// thread reads the next ones (and, for signed suites, hashes what comes back).
// The bytes are those seal.ts writes on its own for the same key and message
// id (test/parallel.test.ts): the same frames, sequence numbers and final frame.
//
// Memory stays flat: at most two batches per worker are in flight, and every
// batch buffer is reused (buffer-pool.ts), the sealed ones once the writer
// releases them. Given a DirectOutput, the workers write the sealed batches
// themselves, in order (direct-output.ts), and nothing is yielded.

import { BatchResults } from './batch-results.js';
import { BufferPool, release } from './buffer-pool.js';
import type { DirectOutput } from './direct-output.js';
import { asFillable } from './fillable.js';
import { type FrameResult, frameWork, sealedFrames, sealedLength } from './frame-batch.js';
import type { FramePool } from './frame-pool.js';
import { JobQueue } from './job-queue.js';
import { framesPerBatch, IN_FLIGHT_PER_WORKER } from './parallel.js';
import type { SealParams } from './seal.js';
import { exceedsFrameLimit, tooManyFrames } from './seal-frame.js';

/**
 * Seals `held` (bytes read but not yet sealed, starting on a frame boundary)
 * and then the rest of `source`, numbering frames from `sequenceNumber`.
 * The caller owns `source` (and closes it if this stops early).
 */
export async function* sealInParallel(
  held: readonly Uint8Array[],
  source: AsyncIterator<Uint8Array>,
  p: SealParams,
  sequenceNumber: number,
  pool: FramePool,
  direct?: DirectOutput,
): AsyncGenerator<Buffer> {
  const frameLength = p.frameLength;
  const batchBytes = framesPerBatch(frameLength) * frameLength;
  const inFlight = IN_FLIGHT_PER_WORKER * pool.workers;
  const inputs = new BufferPool(batchBytes, inFlight + 1);
  const results = new BatchResults(direct, sealedLength(frameLength, batchBytes, true), inFlight);
  const jobs = new JobQueue();
  // A compact copy: a view would post its whole underlying buffer with every job.
  const messageId = new Uint8Array(p.messageId);
  let batch = new Uint8Array(inputs.takeArrayBuffer());
  let fill = 0;
  let finished = false;

  const send = (final: boolean) => {
    const frames = sealedFrames(frameLength, fill, final);
    if (exceedsFrameLimit(sequenceNumber, frames)) throw tooManyFrames();
    jobs.push(
      pool.run({
        ...frameWork(p, messageId, sequenceNumber),
        kind: 'seal',
        input: batch.buffer as ArrayBuffer,
        length: fill,
        final,
        ...results.destination(),
      }),
    );
    sequenceNumber += frames;
    batch = new Uint8Array(inputs.takeArrayBuffer());
    fill = 0;
  };
  /** A batch's answer: its sealed frames to yield, or none if the worker wrote them. */
  const sealed = (r: FrameResult): Buffer[] => {
    inputs.give(r.input as ArrayBuffer);
    const frames = results.take(r);
    return frames ? [frames] : [];
  };

  /** Sends the full batch, once more input shows that its last frame is not the final one; yields what is sealed by then. */
  async function* sendFull(): AsyncGenerator<Buffer> {
    send(false);
    if (jobs.length >= inFlight) yield* sealed(await jobs.shift());
    while (jobs.headSettled) yield* sealed(await jobs.shift());
  }

  try {
    // What was yielded before must be out before the workers write after it.
    await direct?.flush();
    // An input that reads straight into the batch (fillable.ts) takes over after the held bytes.
    const fillable = asFillable(source);
    const pending = [...held];
    for (;;) {
      let chunk = pending.shift();
      if (chunk === undefined) {
        if (fillable) break;
        const next = await source.next();
        if (next.done) break;
        chunk = next.value;
      }
      for (let at = 0; at < chunk.length; ) {
        if (fill === batchBytes) yield* sendFull();
        const n = Math.min(chunk.length - at, batchBytes - fill);
        batch.set(chunk.subarray(at, at + n), fill);
        fill += n;
        at += n;
      }
      release(chunk);
    }
    while (fillable) {
      if (fill === batchBytes) {
        if (!(await fillable.more())) break;
        send(false);
      }
      // The batch fills while the answers are awaited: reads that come meanwhile land in it.
      const filling = fillable.fill(batch.subarray(fill));
      // A failed read is thrown below; should an answer fail first, it is not left unhandled.
      filling.catch(() => undefined);
      if (jobs.length >= inFlight) yield* sealed(await jobs.shift());
      while (jobs.headSettled) yield* sealed(await jobs.shift());
      fill += await filling;
      if (fill < batchBytes) break; // the end of the input
    }
    send(true);
    while (jobs.length > 0) yield* sealed(await jobs.shift());
    finished = true;
  } finally {
    if (!finished) {
      await jobs.giveUp((r) => {
        inputs.give(r.input as ArrayBuffer);
        results.recycle(r);
      }, results.turns);
    }
    batch.fill(0);
    inputs.close();
    results.close();
  }
}
