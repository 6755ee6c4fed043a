// Sealing a pipe that a reader thread reads into a ring (input-ring.ts), the
// workers taking its slots, sealing them where the bytes lie and writing them
// out in turn (ring-sealer.ts). This thread starts them, and then only counts
// what they wrote. The bytes are those seal.ts writes on its own for the same
// key and message id (test/parallel.test.ts).

import { type DirectOutput, throwWriteError, WriteTurns } from './direct-output.js';
import { frameWork } from './frame-batch.js';
import type { FramePool } from './frame-pool.js';
import type { HandedOver } from './hand-over.js';
import { InputRing } from './input-ring.js';
import { framesPerBatch } from './parallel.js';
import type { ReaderThread } from './reader-thread.js';
import type { RingSealJob } from './ring-sealer.js';
import type { SealParams } from './seal.js';
import { tooManyFrames } from './seal-frame.js';

/**
 * Seals `held` (bytes read but not yet sealed, starting on a frame boundary)
 * and then what the handed-over descriptor gives, numbering frames from
 * `sequenceNumber`; the workers write it all to `out`. The caller owns
 * `thread`, which reads the descriptor.
 */
export async function sealFromRing(
  held: readonly Uint8Array[],
  handed: HandedOver,
  thread: ReaderThread,
  p: SealParams,
  sequenceNumber: number,
  pool: FramePool,
  out: DirectOutput,
): Promise<void> {
  const frameLength = p.frameLength;
  const batchBytes = framesPerBatch(frameLength) * frameLength;
  // A compact copy: a view would post its whole underlying buffer with every job.
  const messageId = new Uint8Array(p.messageId);
  // What was yielded before must be out before the workers write after it.
  await out.flush();
  // A slot for each worker, one read to show that the last of theirs is not
  // the message's last, one read ahead; what was read before the hand-over fills the first slots.
  const ring = InputRing.holding(batchBytes, pool.workers + 3, [...held, ...handed.held]);
  const turns = new WriteTurns();
  thread.read(handed.fd, ring);
  const job = (): RingSealJob => ({
    ...frameWork(p, messageId, sequenceNumber),
    kind: 'seal-ring',
    ring: ring.memory,
    fd: out.fd,
    turns: turns.memory,
  });
  const sealers = Array.from({ length: pool.workers }, () => pool.run(job(), (bytes) => out.wrote(bytes)));
  let done = false;
  try {
    const answers = await Promise.all(sealers);
    for (const r of answers) if (r.error !== undefined) throw new Error(`frame worker: ${r.error}`);
    if (answers.some((r) => r.tooLong)) throw tooManyFrames();
    // The write that failed, rather than the batches left unwritten for it.
    const unwritten = answers.find((r) => r.writeError) ?? answers.find((r) => r.unwritten);
    if (unwritten) throwWriteError(unwritten);
    // The workers sealed the last slot, or stopped as a read failed: the reader says which.
    await thread.finished(handed.failure);
    done = true;
  } finally {
    if (!done) {
      // No worker may still be writing once this returns: the caller closes the descriptor.
      ring.stop();
      turns.stop();
      await Promise.allSettled(sealers);
    }
    ring.wipe();
  }
}
