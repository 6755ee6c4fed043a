// A worker's part in sealing a ring (input-ring.ts): it takes the next slot,
// waits until the slot is complete, seals it where it lies and writes the
// frames to the output in the slot's turn (direct-output.ts), then takes the
// next, until the message ends. Each slot is one batch: slot i's frames are
// numbered from firstSequence + i * framesPerBatch, so the message comes out
// as one thread would seal it, whichever worker seals which slot.

import { WriteTurns } from './direct-output.js';
import { type FrameWork, type SealJob, sealBatch, sealedFrames } from './frame-batch.js';
import { DirectSink, type Outcome } from './frame-sinks.js';
import { InputRing, type RingMemory } from './input-ring.js';
import { exceedsFrameLimit } from './seal-frame.js';

/** FrameWork's firstSequence is that of slot 0's first frame. */
export interface RingSealJob extends FrameWork {
  readonly kind: 'seal-ring';
  readonly ring: RingMemory;
  readonly fd: number;
  /** A WriteTurns' memory: slot i is written in turn i. */
  readonly turns: SharedArrayBuffer;
}

/**
 * Seals and writes slots until the message has ended (or the ring stopped).
 * `wrote` is told of each batch written. A failed write, or a message too long
 * for its frame size, stops the ring and the turns: nothing more is read or written.
 */
export function sealRing(job: RingSealJob, wrote: (bytes: number) => void): Outcome {
  const ring = new InputRing(job.ring);
  const turns = new WriteTurns(job.turns);
  const framesPerSlot = ring.slotBytes / job.frameLength;
  let written = 0;
  const stopAll = () => {
    ring.stop();
    turns.stop();
  };
  for (;;) {
    const index = ring.take();
    const slot = ring.awaitSlot(index);
    if (!slot) return { length: written };
    const firstSequence = job.firstSequence + index * framesPerSlot;
    if (exceedsFrameLimit(firstSequence, sealedFrames(job.frameLength, slot.length, slot.final))) {
      stopAll();
      return { length: written, tooLong: true };
    }
    // The slot is freed in its turn: every slot before it is written by then, and freed.
    const sink = new DirectSink({ fd: job.fd, turns: job.turns, index }, () => ring.free(index));
    const batch: SealJob = {
      kind: 'seal',
      id: job.id,
      cipher: job.cipher,
      key: job.key,
      messageId: job.messageId,
      frameLength: job.frameLength,
      firstSequence,
      input: ring.slot(index),
      length: slot.length,
      final: slot.final,
    };
    sealBatch(batch, sink);
    const outcome = sink.finish(false);
    if (outcome.writeError || outcome.unwritten) {
      stopAll();
      return { ...outcome, length: written };
    }
    written += outcome.length;
    wrote(outcome.length);
    if (slot.final) return { length: written };
  }
}
