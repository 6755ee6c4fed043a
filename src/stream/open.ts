// Decryption of a message body (data-format/message-body.md; layouts drawn in
// src/format/frame.ts). Each frame's plaintext is released only after its tag
// verifies. The final frame is held back until the footer (if any) verifies and
// the input is known to end there, so a truncated, extended or forged message
// never yields its last bytes.

import { FormatError, IntegrityError } from '../errors.js';
import { ContentType, FINAL_FRAME_MARKER, IV_LENGTH, MAX_NON_FRAMED_LENGTH, TAG_LENGTH } from '../format/constants.js';
import type { ByteReader } from './byte-reader.js';
import type { DirectOutput } from './direct-output.js';
import { openFinalFrame, openFrame, type OpenParams, sequenceProblem } from './open-frame.js';
import { openFromRing } from './open-from-ring.js';
import { openInParallel } from './open-parallel.js';
import { canRunInParallel, defaultParallelOptions, MAX_PARALLEL_FRAME_LENGTH, type ParallelOptions, workerLocation } from './parallel.js';
import { assertEnd, readSignature } from './walk.js';
import { type StartedWorkers, WorkerStart } from './worker-start.js';

export type { OpenParams } from './open-frame.js';

/**
 * Yields the plaintext of the body, frame by frame (see the top of this file
 * for what is held back). Once more than `parallel.threshold` bytes of body
 * have gone by, worker threads are started (this thread goes on opening
 * meanwhile: worker-start.ts); once they run, they open
 * the rest of the frames (open-parallel.ts) under the same checks, and write
 * their plaintext to `direct` when the consumer offers it (direct-output.ts).
 * An unsigned message from a pipe whose reader hands it over (hand-over.ts)
 * is then read by a thread of its own, and the workers open the frames where
 * it reads them (open-from-ring.ts).
 */
export async function* openBody(
  reader: ByteReader,
  p: OpenParams,
  parallel: ParallelOptions = defaultParallelOptions(),
  direct?: DirectOutput,
): AsyncGenerator<Buffer> {
  if (p.verifier) reader.observer = (b) => p.verifier!.update(b);
  const last = p.contentType === ContentType.Framed ? yield* openFrames(reader, p, parallel, direct) : await openNonFramed(reader, p);
  if (p.verifier) {
    reader.observer = undefined;
    p.verifier.verify(await readSignature(reader));
  }
  await assertEnd(reader);
  yield last;
}

/** Yields every frame but the final one, and returns the final frame's plaintext. */
async function* openFrames(
  reader: ByteReader,
  p: OpenParams,
  parallel: ParallelOptions,
  direct: DirectOutput | undefined,
): AsyncGenerator<Buffer, Buffer> {
  const workers = canRunInParallel(parallel, p.frameLength) ? workerLocation(parallel) : undefined;
  const start = reader.position;
  let starting: WorkerStart | undefined;
  let started: StartedWorkers | undefined;
  // Each regular frame is copied into `record` (made at the first one), so the
  // input's buffers go back to their pool as they are used up
  // (ByteReader.releaseCopied) rather than pile up. Not for frames too large
  // to batch: those are read as views, and a header claiming a huge frame
  // over a short body costs no huge buffer.
  const copying = p.frameLength <= MAX_PARALLEL_FRAME_LENGTH;
  let record: Buffer | undefined;
  reader.releaseCopied = copying;
  try {
    for (let expected = 1; ; expected++) {
      // For a pipe that can be read by a thread of its own (hand-over.ts) while
      // the workers write the output, a reader thread is started beside them.
      // Not for a signed message, whose hash must see every byte here.
      if (workers && !starting && reader.position - start > parallel.threshold) {
        starting = new WorkerStart(parallel, workers, !!direct && !p.verifier && reader.mayHandOver);
        if (parallel.waitForWorkers) await starting.settled();
      }
      started = starting?.take();
      if (started) {
        const { pool, reader: thread } = started;
        const handed = thread ? reader.handOver() : undefined;
        if (handed) return await openFromRing(handed, thread!, p, expected, pool, direct!);
        return yield* openInParallel(reader, p, expected, pool, direct);
      }
      const first = await reader.u32('frame header');
      if (first === FINAL_FRAME_MARKER) {
        reader.releaseCopied = false;
        return await openFinalFrame(reader, p, expected);
      }
      const problem = sequenceProblem(first, expected);
      if (problem) throw new IntegrityError(problem);
      if (copying) {
        record ??= Buffer.allocUnsafe(IV_LENGTH + p.frameLength + TAG_LENGTH);
        await reader.copyTo(record, 0, record.length, `frame ${expected}`);
        const ciphertextEnd = IV_LENGTH + p.frameLength;
        yield openFrame(p, 'Frame', expected, record.subarray(0, IV_LENGTH), record.subarray(IV_LENGTH, ciphertextEnd), record.subarray(ciphertextEnd));
      } else {
        const iv = await reader.read(IV_LENGTH, `frame ${expected}`);
        const ciphertext = await reader.read(p.frameLength, `frame ${expected}`);
        const tag = await reader.read(TAG_LENGTH, `frame ${expected}`);
        yield openFrame(p, 'Frame', expected, iv, ciphertext, tag);
      }
    }
  } finally {
    reader.releaseCopied = false;
    started?.reader?.close();
    starting?.discard();
  }
}

async function openNonFramed(reader: ByteReader, p: OpenParams): Promise<Buffer> {
  const iv = await reader.read(IV_LENGTH, 'body header');
  const length = (await reader.read(8, 'body header')).readBigUInt64BE(0);
  if (length > BigInt(MAX_NON_FRAMED_LENGTH)) throw new IntegrityError('non-framed body claims more than 2^36 - 32 bytes');
  if (length > BigInt(p.maxBodyLength)) {
    throw new FormatError(`non-framed body of ${length} bytes is over the limit of ${p.maxBodyLength} bytes`, {
      hints: ['raise it with --max-frame-size if you trust the sender'],
    });
  }
  const ciphertext = await reader.read(Number(length), 'body');
  const tag = await reader.read(TAG_LENGTH, 'body');
  return openFrame(p, 'NonFramed', 1, iv, ciphertext, tag);
}
