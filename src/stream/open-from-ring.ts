// Opening a message's frames as a reader thread reads them from a pipe into
// a ring (input-ring.ts), the workers taking its slots, opening the frames
// where they lie and writing their plaintext out in turn (ring-opener.ts).
// This thread starts them, counts what they wrote, and then reads the final
// frame from the ring itself: as everywhere (open.ts), its plaintext is held
// back until the message is known to end right after it.
//
// The guarantees of open-parallel.ts hold unchanged: the same plaintext comes
// out, then the same error, as on one thread. A worker answers for a slot only
// once every slot before it is written, and a slot that ends the frames ends
// the writing, so the first answer that says where the frames ended (the final
// frame, a break, a frame that does not authenticate, a failed write) is the
// one: answers for later slots are left unwritten and say nothing.
//
// Only for unsigned messages: a signed one's hash must see every byte, on this thread.

import { IntegrityError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { type DirectOutput, throwWriteError, WriteTurns } from './direct-output.js';
import { FRAME_OVERHEAD, type FrameResult, frameWork } from './frame-batch.js';
import type { FramePool } from './frame-pool.js';
import type { HandedOver } from './hand-over.js';
import { InputRing } from './input-ring.js';
import { frameNotAuthentic, openFinalFrame, type OpenParams } from './open-frame.js';
import { framesPerBatch } from './parallel.js';
import type { ReaderThread } from './reader-thread.js';
import type { RingOpenJob } from './ring-opener.js';
import { assertEnd } from './walk.js';

/**
 * Opens frames `expected`… from `handed.held` and then what the handed-over
 * descriptor gives (starting on a frame boundary); the workers write their
 * plaintext to `out`. Returns the final frame's plaintext once the input has
 * ended right after it. The caller owns `thread`, which reads the descriptor.
 */
export async function openFromRing(
  handed: HandedOver,
  thread: ReaderThread,
  p: OpenParams,
  expected: number,
  pool: FramePool,
  out: DirectOutput,
): Promise<Buffer> {
  const record = p.frameLength + FRAME_OVERHEAD;
  // A compact copy: a view would post its whole underlying buffer with every job.
  const messageId = new Uint8Array(p.messageId);
  // What was yielded before must be out before the workers write after it.
  await out.flush();
  // A slot for each worker, one read to show that the last of theirs is not
  // the last, one read ahead; also room for the final frame, which may spill
  // into the slot after its own, and a byte after it (ring-opener.ts).
  const ring = InputRing.holding(framesPerBatch(p.frameLength) * record, pool.workers + 3, handed.held);
  const turns = new WriteTurns();
  thread.read(handed.fd, ring);
  const job = (): RingOpenJob => ({
    ...frameWork(p, messageId, expected),
    kind: 'open-ring',
    ring: ring.memory,
    fd: out.fd,
    turns: turns.memory,
  });
  const openers = Array.from({ length: pool.workers }, () => pool.run(job(), (bytes) => out.wrote(bytes)));
  try {
    const ended = await whereFramesEnded(openers);
    if (!ended) {
      // Every worker stopped without an answer: the ring stopped as a read failed (or the reader died).
      await thread.finished(handed.failure);
      throw new Error('the frame workers stopped before the end of the message');
    }
    if (ended.writeError) throwWriteError(ended);
    if (ended.failedSequence !== undefined) throw frameNotAuthentic(ended.failedSequence);
    if (ended.broken !== undefined) throw new IntegrityError(ended.broken);
    const finalAt = ended.finalAt!;
    // After the marker, which the workers found and checked.
    const tail = new ByteReader(ringBytes(ring, finalAt + 4, thread, handed));
    const last = await openFinalFrame(tail, p, expected + finalAt / record);
    await assertEnd(tail);
    return last;
  } finally {
    // No worker may still be writing once this returns: the caller closes the descriptor.
    ring.stop();
    turns.stop();
    await Promise.allSettled(openers);
    ring.wipe();
  }
}

/** The answer of the slot where the frames ended, or undefined if every worker stopped without one. */
function whereFramesEnded(openers: readonly Promise<FrameResult>[]): Promise<FrameResult | undefined> {
  return new Promise((resolve, reject) => {
    let left = openers.length;
    for (const opener of openers) {
      opener.then((r) => {
        // An opener left unwritten says nothing of where the frames ended (ring-opener.ts).
        if (r.writeError || r.failedSequence !== undefined || r.broken !== undefined || r.finalAt !== undefined) resolve(r);
        else if (--left === 0) resolve(undefined);
      }, reject);
    }
  });
}

/**
 * The ring's bytes from `from` to the end of the input, copied out as the
 * reader reads them. The slots they lie in are never freed, so the reader
 * cannot overwrite them; past the final frame, the ring holds at least a slot
 * more than the frame and the byte after it need.
 */
async function* ringBytes(ring: InputRing, from: number, thread: ReaderThread, handed: HandedOver): AsyncGenerator<Uint8Array> {
  let at = from;
  ring.wantEveryRead();
  for (;;) {
    const version = ring.dataVersion();
    const end = ring.ended();
    const upTo = end >= 0 ? end : ring.read();
    while (at < upTo) {
      const offset = at % ring.slotBytes;
      const n = Math.min(upTo - at, ring.slotBytes - offset);
      yield Buffer.from(new Uint8Array(ring.slot(Math.floor(at / ring.slotBytes)), offset, n));
      at += n;
    }
    if (end >= 0) return;
    if (ring.stopped) {
      await thread.finished(handed.failure);
      throw new Error('the input ring stopped before the end of the message');
    }
    await ring.awaitData(version);
  }
}
