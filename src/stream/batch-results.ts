// Where the workers' results go, for one message (seal-parallel.ts and
// open-parallel.ts): copied into pooled buffers that this thread yields and the
// writer releases, or written by the workers themselves to a DirectOutput, in
// message order (direct-output.ts), and only counted here.

import { BufferPool, buffersHeldByWriter } from './buffer-pool.js';
import { acceptWritten, type DirectOutput, type DirectWrite, WriteTurns } from './direct-output.js';
import type { FrameResult } from './frame-batch.js';

export class BatchResults {
  private readonly outputs: BufferPool | undefined;
  /** The workers' order of writing, when they write. */
  readonly turns: WriteTurns | undefined;
  private index = 0;

  /** @param byteLength the largest result of a batch; @param inFlight batches in flight at most */
  constructor(
    private readonly direct: DirectOutput | undefined,
    byteLength: number,
    inFlight: number,
  ) {
    this.outputs = direct ? undefined : new BufferPool(byteLength, inFlight + 1 + buffersHeldByWriter(byteLength));
    this.turns = direct ? new WriteTurns() : undefined;
  }

  /** Where the next batch's job puts its result. */
  destination(): { readonly output: ArrayBuffer } | { readonly direct: DirectWrite } {
    if (this.direct && this.turns) return { direct: { fd: this.direct.fd, turns: this.turns.memory, index: this.index++ } };
    return { output: this.outputs!.takeArrayBuffer() };
  }

  /**
   * An answer's result on this thread: the bytes to yield, or undefined when
   * there are none or the worker wrote them (a failed write is thrown here).
   */
  take(r: FrameResult): Buffer | undefined {
    if (!this.outputs) {
      acceptWritten(r, this.direct!);
      return undefined;
    }
    if (r.length > 0) return this.outputs.lend(r.output!, r.length);
    this.outputs.give(r.output!);
    return undefined;
  }

  /** The output buffer of an answer nobody will take (a run given up). */
  recycle(r: FrameResult): void {
    if (r.output) this.outputs?.give(r.output);
  }

  close(): void {
    this.outputs?.close();
  }
}
