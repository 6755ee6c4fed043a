// Framed decryption on worker threads: this thread reads the frames, checks
// their sequence numbers (and feeds the signature hash), and copies them into
// batches that workers open while it reads on.
//
// The guarantees of open.ts hold unchanged. A worker writes a frame's
// plaintext out only once its tag has verified, and answers with the
// plaintext of the frames before the first that did not. Answers are taken in
// message order, and an error found while reading ahead (a frame out of
// order, a truncation, a read failure) is reported only once every frame
// before it has been opened: the same plaintext comes out, then the same
// error, as on one thread. The final frame is opened on this thread after all
// batches, and open.ts holds it back until the footer and the end of the input
// check out. Given a DirectOutput, the workers write the plaintext themselves,
// in order (direct-output.ts): a batch with a frame that does not authenticate
// writes the frames before it, and no batch after it writes.

import { IntegrityError } from '../errors.js';
import { FINAL_FRAME_MARKER } from '../format/constants.js';
import { BatchResults } from './batch-results.js';
import { BufferPool } from './buffer-pool.js';
import type { DirectOutput } from './direct-output.js';
import type { ByteReader } from './byte-reader.js';
import { FRAME_OVERHEAD, type FrameResult, frameWork } from './frame-batch.js';
import type { FramePool } from './frame-pool.js';
import { JobQueue } from './job-queue.js';
import { frameNotAuthentic, openFinalFrame, type OpenParams, sequenceProblem } from './open-frame.js';
import { framesPerBatch, IN_FLIGHT_PER_WORKER } from './parallel.js';

/** Yields the plaintext of frames `expected`… but the final one, and returns the final frame's plaintext. */
export async function* openInParallel(
  reader: ByteReader,
  p: OpenParams,
  expected: number,
  pool: FramePool,
  direct?: DirectOutput,
): AsyncGenerator<Buffer, Buffer> {
  const frameLength = p.frameLength;
  const record = frameLength + FRAME_OVERHEAD;
  const frames = framesPerBatch(frameLength);
  const inFlight = IN_FLIGHT_PER_WORKER * pool.workers;
  const inputs = new BufferPool(frames * record, inFlight + 1);
  const results = new BatchResults(direct, frames * frameLength, inFlight);
  const jobs = new JobQueue();
  // A compact copy: a view would post its whole underlying buffer with every job.
  const messageId = new Uint8Array(p.messageId);
  let finished = false;

  /** The verified plaintext of an answer, or its failure once that plaintext is out. */
  async function* opened(r: FrameResult): AsyncGenerator<Buffer> {
    // Batches to open are copied here into pooled ArrayBuffers, never shared memory.
    inputs.give(r.input as ArrayBuffer);
    const plaintext = results.take(r);
    if (plaintext) yield plaintext;
    if (r.failedSequence !== undefined) {
      throw frameNotAuthentic(r.failedSequence);
    }
  }

  try {
    // What was yielded before must be out before the workers write after it.
    await direct?.flush();
    let stop: unknown;
    let finalReached = false;
    while (!finalReached && stop === undefined) {
      const batch = new Uint8Array(inputs.takeArrayBuffer());
      const view = new DataView(batch.buffer);
      const first = expected;
      let count = 0;
      try {
        while (count < frames) {
          // Bytes already buffered are taken without a promise (two fewer per frame).
          const sequenceNumber = (reader.available >= 4 ? reader.consume(4) : await reader.read(4, 'frame header')).readUInt32BE(0);
          if (sequenceNumber === FINAL_FRAME_MARKER) {
            finalReached = true;
            break;
          }
          const problem = sequenceProblem(sequenceNumber, expected);
          if (problem) throw new IntegrityError(problem);
          view.setUint32(count * record, sequenceNumber);
          if (reader.available >= record - 4) reader.copyBuffered(batch, count * record + 4, record - 4);
          else await reader.copyTo(batch, count * record + 4, record - 4, `frame ${expected}`);
          count++;
          expected++;
        }
      } catch (e) {
        stop = e; // reported after the frames before it
      }
      if (count === 0) {
        inputs.give(batch.buffer as ArrayBuffer);
        continue;
      }
      jobs.push(
        pool.run({
          ...frameWork(p, messageId, first),
          kind: 'open',
          input: batch.buffer as ArrayBuffer,
          frames: count,
          ...results.destination(),
        }),
      );
      if (jobs.length >= inFlight) yield* opened(await jobs.shift());
      while (jobs.headSettled) yield* opened(await jobs.shift());
    }
    while (jobs.length > 0) yield* opened(await jobs.shift());
    if (stop !== undefined) throw stop;
    reader.releaseCopied = false;
    const last = await openFinalFrame(reader, p, expected);
    finished = true;
    return last;
  } finally {
    reader.releaseCopied = false;
    if (!finished) {
      await jobs.giveUp((r) => {
        inputs.give(r.input as ArrayBuffer);
        results.recycle(r);
      }, results.turns);
    }
    inputs.close();
    results.close();
  }
}
