// A worker's part in opening a ring (input-ring.ts) of a message's frames, as
// a reader thread reads them from a pipe: it takes the next slot, waits until
// the slot is complete, checks the frames' sequence numbers where they lie,
// opens them there and writes their plaintext in the slot's turn
// (direct-output.ts), then takes the next, until the message's frames end.
//
// Slots are cut on frame boundaries: a slot holds framesPerBatch whole
// records (sequence number, IV, ciphertext, tag: src/format/frame.ts draws
// them), the ring starts where a record starts, so slot i's frames are
// numbered from firstSequence + i * framesPerSlot, and a record never spans
// two slots. Only the final frame, whose header is longer, may: it is not
// opened here but found, and the main thread reads it from the ring
// (open-from-ring.ts), as it holds it back until the end of the message checks out.
//
// A slot's scan stops at the first of: the final frame's marker, a sequence
// number out of order, or the end of the input (a message cut short). The
// frames before that point are opened and written as one thread would write
// them; a frame that does not authenticate stops them there. Whatever stops a
// slot stops the turns after it, so nothing of a later slot is ever written.

import { FINAL_FRAME_MARKER } from '../format/constants.js';
import { truncated } from './byte-reader.js';
import { WriteTurns } from './direct-output.js';
import { FRAME_OVERHEAD, type FrameWork, openBatch } from './frame-batch.js';
import { DirectSink, type Outcome } from './frame-sinks.js';
import { InputRing, type RingMemory } from './input-ring.js';
import { sequenceProblem } from './open-frame.js';

/** FrameWork's firstSequence is that of slot 0's first frame. */
export interface RingOpenJob extends FrameWork {
  readonly kind: 'open-ring';
  readonly ring: RingMemory;
  readonly fd: number;
  /** A WriteTurns' memory: slot i is written in turn i. */
  readonly turns: SharedArrayBuffer;
}

/** What a slot holds: `frames` regular frames from its start, then (maybe) what ends them. */
interface SlotScan {
  readonly frames: number;
  /** The final frame's marker is at this offset in the slot. */
  readonly finalAt?: number;
  /** The message is broken here (out of order, too many frames, cut short). */
  readonly broken?: string;
}

/**
 * The regular frames at the start of `bytes` (a complete slot, which ends the
 * input if `last`), whose first is numbered `first`.
 */
function scanSlot(bytes: Uint8Array, record: number, first: number, last: boolean): SlotScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let frames = 0, at = 0; ; frames++, at += record) {
    if (at === bytes.length && !last) return { frames };
    if (bytes.length - at < 4) return { frames, broken: truncated('frame header') };
    const sequenceNumber = view.getUint32(at);
    if (sequenceNumber === FINAL_FRAME_MARKER) return { frames, finalAt: at };
    const problem = sequenceProblem(sequenceNumber, first + frames);
    if (problem) return { frames, broken: problem };
    if (bytes.length - at < record) return { frames, broken: truncated(`frame ${first + frames}`) };
  }
}

/**
 * Opens and writes slots until the message's frames end (or the ring
 * stopped): answers with where they ended (finalAt, broken, failedSequence),
 * once every slot before has been written. `wrote` is told of each slot
 * written. A worker whose slot was not written, as an earlier one ended the
 * writing, answers `unwritten` and no more: the earlier slot's answer is the one that counts.
 */
export function openRing(job: RingOpenJob, wrote: (bytes: number) => void): Outcome {
  const ring = new InputRing(job.ring);
  const record = job.frameLength + FRAME_OVERHEAD;
  const framesPerSlot = ring.slotBytes / record;
  let written = 0;
  for (;;) {
    const index = ring.take();
    const slot = ring.awaitSlot(index);
    if (!slot) return { length: written };
    const firstSequence = job.firstSequence + index * framesPerSlot;
    const scan = scanSlot(new Uint8Array(ring.slot(index), 0, slot.length), record, firstSequence, slot.final);
    const ends = scan.finalAt !== undefined || scan.broken !== undefined;
    // A slot is freed in its turn (every slot before it is written, and freed,
    // by then), unless the main thread has yet to read the final frame from it.
    const sink = new DirectSink({ fd: job.fd, turns: job.turns, index }, ends ? undefined : () => ring.free(index));
    const failedSequence =
      scan.frames > 0 ? openBatch({ ...job, kind: 'open', input: ring.slot(index), frames: scan.frames, firstSequence }, sink) : undefined;
    const outcome = sink.finish(ends || failedSequence !== undefined);
    if (outcome.length > 0) {
      written += outcome.length;
      wrote(outcome.length);
    }
    if (outcome.writeError) {
      // The turns are stopped (DirectSink): nothing more is read either.
      ring.stop();
      return { ...outcome, length: written };
    }
    if (outcome.unwritten) return { length: written, unwritten: true };
    if (failedSequence !== undefined) return { length: written, failedSequence };
    if (scan.broken !== undefined) return { length: written, broken: scan.broken };
    if (scan.finalAt !== undefined) return { length: written, finalAt: index * ring.slotBytes + scan.finalAt };
  }
}
