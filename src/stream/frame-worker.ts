// Entry point of a worker thread that seals and opens batches of frames (see
// frame-pool.ts for who starts it, frame-batch.ts for the work). Bundled as a
// file of its own (scripts/build.mjs), or inlined as source for the single
// executable (scripts/build-binary.mjs).
//
// Every frame's node:crypto output is freed as soon as it is copied or written
// (free-memory.ts says why).

import { parentPort } from 'node:worker_threads';
import { type DirectWrite, WriteTurns, writeFully } from './direct-output.js';
import { type FrameJob, type FrameResult, type FrameSink, openBatch, sealBatch } from './frame-batch.js';
import { freeMemory } from './free-memory.js';

const port = parentPort;
if (!port) throw new Error('frame-worker runs only as a worker thread');

type Outcome = Omit<FrameResult, 'id' | 'input' | 'output'>;

port.on('message', (job: FrameJob) => {
  let outcome: Outcome;
  try {
    const sink = job.direct ? new DirectSink(job.direct) : new CopySink(job.output!);
    const failedSequence = job.kind === 'seal' ? (sealBatch(job, sink), undefined) : openBatch(job, sink);
    outcome = { ...sink.finish(failedSequence !== undefined), ...(failedSequence === undefined ? {} : { failedSequence }) };
  } catch (e) {
    // A bug or out of memory: the batches after this one must not be written either.
    if (job.direct) new WriteTurns(job.direct.turns).stop();
    outcome = { length: 0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    new Uint8Array(job.key).fill(0);
  }
  const answer: FrameResult = { id: job.id, input: job.input, ...(job.output ? { output: job.output } : {}), ...outcome };
  port.postMessage(answer, job.output ? [job.input, job.output] : [job.input]);
});

/** Copies each frame into the job's output, one after the other. */
class CopySink implements FrameSink {
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
class DirectSink implements FrameSink {
  private readonly held: Buffer[] = [];

  constructor(private readonly direct: DirectWrite) {}

  take(parts: readonly Buffer[]): void {
    this.held.push(...parts);
  }

  /** The batch is done; `last` (a frame that did not authenticate ended it): no batch after it may write. */
  finish(last: boolean): Outcome {
    const turns = new WriteTurns(this.direct.turns);
    try {
      if (!turns.await(this.direct.index)) return { length: 0, unwritten: true };
      let length: number;
      try {
        length = writeFully(this.direct.fd, this.held);
      } catch (e) {
        // Nothing more is written, of this batch or after it.
        turns.stop();
        const code = (e as NodeJS.ErrnoException).code;
        return { length: 0, writeError: { ...(code ? { code } : {}), message: e instanceof Error ? e.message : String(e) } };
      }
      if (last) turns.stop();
      else turns.pass(this.direct.index);
      return { length };
    } finally {
      for (const part of this.held) freeMemory(part);
    }
  }
}
