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
//
// The plaintext comes in one of two ways. A pipe that hands its descriptor over
// (hand-over.ts), given a reader thread and workers that write, is read by that
// thread into a ring of shared batch buffers (input-ring.ts), which the workers
// seal where the bytes lie and write out, on their own (ring-sealer.ts).
// Anything else is read here: straight into the batch when the input fills
// one (fillable.ts), else copied in, chunk by chunk.

import { UsageError } from '../errors.js';
import { MAX_FRAMES } from '../format/constants.js';
import { BatchResults } from './batch-results.js';
import { BufferPool, release } from './buffer-pool.js';
import { type DirectOutput, throwWriteError, WriteTurns } from './direct-output.js';
import { asFillable } from './fillable.js';
import { type FrameResult, keyCopy, sealedFrames, sealedLength } from './frame-batch.js';
import type { FramePool } from './frame-pool.js';
import { asHandsOver, type HandedOver } from './hand-over.js';
import { InputRing } from './input-ring.js';
import { JobQueue } from './job-queue.js';
import { framesPerBatch, IN_FLIGHT_PER_WORKER } from './parallel.js';
import type { ReaderThread } from './reader-thread.js';
import type { RingSealJob } from './ring-sealer.js';
import type { SealParams } from './seal.js';

/**
 * Seals `held` (bytes read but not yet sealed, starting on a frame boundary)
 * and then the rest of `source`, numbering frames from `sequenceNumber`.
 * The caller owns `source` (and closes it if this stops early) and `reader`
 * (which this uses if the source hands its descriptor over).
 */
export async function* sealInParallel(
  held: readonly Uint8Array[],
  source: AsyncIterator<Uint8Array>,
  p: SealParams,
  sequenceNumber: number,
  pool: FramePool,
  direct?: DirectOutput,
  reader?: ReaderThread,
): AsyncGenerator<Buffer> {
  const frameLength = p.frameLength;
  const batchBytes = framesPerBatch(frameLength) * frameLength;
  const inFlight = IN_FLIGHT_PER_WORKER * pool.workers;
  const results = new BatchResults(direct, sealedLength(frameLength, batchBytes, true), inFlight);
  const jobs = new JobQueue();
  // A compact copy: a view would post its whole underlying buffer with every job.
  const messageId = new Uint8Array(p.messageId);
  let finished = false;
  /** Takes back an answered batch's input buffer, and wipes and frees them all at the end (readHere). */
  let giveBack: (input: ArrayBuffer) => void = () => undefined;
  let closeInputs: () => void = () => undefined;

  const send = (input: ArrayBuffer | SharedArrayBuffer, length: number, final: boolean) => {
    const frames = sealedFrames(frameLength, length, final);
    if (sequenceNumber + frames - 1 >= MAX_FRAMES) {
      throw new UsageError('input is too large for this frame size: use a larger --frame-size');
    }
    jobs.push(
      pool.run({
        kind: 'seal',
        id: 0,
        cipher: p.suite.cipher,
        key: keyCopy(p.key),
        messageId,
        frameLength,
        firstSequence: sequenceNumber,
        input,
        length,
        final,
        ...results.destination(),
      }),
    );
    sequenceNumber += frames;
  };
  /** A batch's answer: its sealed frames to yield, or none if the worker wrote them. */
  const sealed = (r: FrameResult): Buffer[] => {
    giveBack(r.input as ArrayBuffer);
    const frames = results.take(r);
    return frames ? [frames] : [];
  };
  /** Makes room for one more batch in flight, yielding what is sealed by then. */
  async function* room(): AsyncGenerator<Buffer> {
    if (jobs.length >= inFlight) yield* sealed(await jobs.shift());
    while (jobs.headSettled) yield* sealed(await jobs.shift());
  }

  /** The source read on this thread, into batches from a pool. */
  async function* readHere(): AsyncGenerator<Buffer> {
    const inputs = new BufferPool(batchBytes, inFlight + 1);
    let batch = new Uint8Array(inputs.takeArrayBuffer());
    let fill = 0;
    giveBack = (input) => inputs.give(input);
    closeInputs = () => {
      batch.fill(0);
      inputs.close();
    };
    const sendBatch = (final: boolean) => {
      send(batch.buffer as ArrayBuffer, fill, final);
      batch = new Uint8Array(inputs.takeArrayBuffer());
      fill = 0;
    };

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
        if (fill === batchBytes) {
          // Sent once more input shows that its last frame is not the final one.
          sendBatch(false);
          yield* room();
        }
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
        sendBatch(false);
      }
      // The batch fills while the answers are awaited: reads that come meanwhile land in it.
      const filling = fillable.fill(batch.subarray(fill));
      // A failed read is thrown below; should an answer fail first, it is not left unhandled.
      filling.catch(() => undefined);
      yield* room();
      fill += await filling;
      if (fill < batchBytes) break; // the end of the input
    }
    sendBatch(true);
  }

  /**
   * The handed-over descriptor read by the reader thread into a ring, which the
   * workers seal and write from on their own (ring-sealer.ts): nothing passes
   * through this thread but their counts of what they wrote.
   */
  async function sealByThreads(handed: HandedOver, thread: ReaderThread, out: DirectOutput): Promise<void> {
    const before = [...held, ...handed.held];
    const heldBytes = before.reduce((sum, chunk) => sum + chunk.length, 0);
    // A slot for each worker, one read to show that the last of theirs is not
    // the message's last, one read ahead (and room for what was held before).
    const ring = InputRing.create(batchBytes, Math.max(pool.workers + 3, Math.floor(heldBytes / batchBytes) + 3));
    const turns = new WriteTurns();
    // What was read before the hand-over fills the first slots.
    let placed = 0;
    for (const chunk of before) {
      for (let at = 0; at < chunk.length; ) {
        const offset = placed % batchBytes;
        const n = Math.min(chunk.length - at, batchBytes - offset);
        new Uint8Array(ring.slot(Math.floor(placed / batchBytes))).set(chunk.subarray(at, at + n), offset);
        at += n;
        placed += n;
      }
      release(chunk);
    }
    ring.setRead(placed);
    thread.read(handed.fd, ring);
    const job = (): RingSealJob => ({
      kind: 'seal-ring',
      id: 0,
      cipher: p.suite.cipher,
      key: keyCopy(p.key),
      messageId,
      frameLength,
      firstSequence: sequenceNumber,
      ring: ring.memory,
      fd: out.fd,
      turns: turns.memory,
    });
    const sealers = Array.from({ length: pool.workers }, () => pool.run(job(), (bytes) => out.wrote(bytes)));
    let done = false;
    try {
      const answers = await Promise.all(sealers);
      for (const r of answers) if (r.error !== undefined) throw new Error(`frame worker: ${r.error}`);
      if (answers.some((r) => r.tooLong)) throw new UsageError('input is too large for this frame size: use a larger --frame-size');
      // The write that failed, before the batches left unwritten for it.
      for (const r of [...answers].sort((a, b) => Number(Boolean(b.writeError)) - Number(Boolean(a.writeError)))) throwWriteError(r);
      // The workers sealed the last slot, or stopped as a read failed: the reader says which.
      try {
        await thread.finished();
      } catch (e) {
        throw handed.failure(e);
      }
      done = true;
    } finally {
      if (!done) {
        // No worker may still be writing once this returns: the caller closes the descriptor.
        ring.stop();
        turns.stop();
        await Promise.allSettled(sealers);
      }
      thread.close();
      ring.wipe();
    }
  }

  try {
    // What was yielded before must be out before the workers write after it.
    await direct?.flush();
    const handed = reader && direct ? asHandsOver(source)?.handOver() : undefined;
    if (handed && reader && direct) await sealByThreads(handed, reader, direct);
    else yield* readHere();
    while (jobs.length > 0) yield* sealed(await jobs.shift());
    finished = true;
  } finally {
    if (!finished) {
      await jobs.giveUp((r) => {
        giveBack(r.input as ArrayBuffer);
        results.recycle(r);
      }, results.turns);
    }
    closeInputs();
    results.close();
  }
}
