// Where a worker puts the frames of a batch as it seals or opens them
// (frame-batch.ts's FrameSink): copied into the job's output buffer, or written
// to the job's descriptor in the batch's turn (direct-output.ts).
//
// Every frame's node:crypto output is freed as soon as it is copied or written
// (free-memory.ts says why).

import { type DirectWrite, WriteTurns, writeFully } from './direct-output.js';
import type { FrameResult, FrameSink } from './frame-batch.js';
import { freeMemory } from './free-memory.js';
import { postable } from './posted-error.js';

/** What a worker says of a job, besides the buffers it hands back. */
export type Outcome = Omit<FrameResult, 'id' | 'input' | 'output'>;

/** Copies each frame into the job's output, one after the other. */
export class CopySink implements FrameSink {
  private readonly out: Uint8Array;
  private length = 0;

  constructor(output: ArrayBuffer) {
    this.out = new Uint8Array(output);
  }

  take(parts: readonly Buffer[]): void {
    for (const part of parts) {
      this.out.set(part, this.length);
      this.length += part.length;
      freeMemory(part);
    }
  }

  finish(): Outcome {
    return { length: this.length };
  }
}

/**
 * Writes the batch's frames to the job's descriptor in the batch's turn
 * (WriteTurns), all at once: one large write keeps a pipe streaming, where a
 * write per frame (64 KiB and 32 bytes, in a 64 KiB pipe) waits on the reader
 * twice per frame (measured: 10-15% slower through pipes).
 */
export class DirectSink implements FrameSink {
  private readonly held: Buffer[] = [];

  /** @param onTurn called once it is this batch's turn, before it is written */
  constructor(
    private readonly direct: DirectWrite,
    private readonly onTurn?: () => void,
  ) {}

  take(parts: readonly Buffer[]): void {
    this.held.push(...parts);
  }

  /** The batch is done; `last` (a frame that did not authenticate ended it): no batch after it may write. */
  finish(last: boolean): Outcome {
    const turns = new WriteTurns(this.direct.turns);
    try {
      if (!turns.await(this.direct.index)) return { length: 0, unwritten: true };
      this.onTurn?.();
      let length: number;
      try {
        length = writeFully(this.direct.fd, this.held);
      } catch (e) {
        // Nothing more is written, of this batch or after it.
        turns.stop();
        return { length: 0, writeError: postable(e) };
      }
      if (last) turns.stop();
      else turns.pass(this.direct.index);
      return { length };
    } finally {
      for (const part of this.held) freeMemory(part);
    }
  }
}
