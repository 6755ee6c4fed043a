// Output that worker threads write to themselves. Through pipes, a worker that
// hands its sealed (or opened) frames back to be written costs this thread a
// copy and every write system call, and this thread, which also reads the
// input, is then the one that runs out of time (measured on 2 cores, 1 GiB
// through `cat | … | cat`, medians of 7: encrypt 1.44 s that way against
// 1.20 s with the workers writing what node:crypto returned; decrypt 1.51 s
// against 1.16 s).
//
// So when the caller offers a descriptor, each worker writes its batch there
// with blocking writev(2) calls, in message order: a counter shared by the
// workers (WriteTurns) says which batch is next, or that writing has stopped.

import { writevSync } from 'node:fs';
import type { FrameResult } from './frame-batch.js';
import { revived } from './posted-error.js';

/**
 * A descriptor the workers may write to, offered by whoever consumes the
 * generator (src/cli/output.ts). The consumer writes what it is handed to the
 * same descriptor; flush() makes sure it has, before a worker writes after it.
 */
export interface DirectOutput {
  /** Takes blocking writes (a pipe, socket, regular file or device opened without O_NONBLOCK). */
  readonly fd: number;
  /** Resolves once everything the consumer was handed so far is written to `fd`. */
  flush(): Promise<void>;
  /** Workers wrote `bytes` more to `fd` (a file's writer flushes it to disk as it grows). */
  wrote(bytes: number): void;
}

/** What a job carries to write its batch itself. */
export interface DirectWrite {
  readonly fd: number;
  /** A WriteTurns' shared memory (shared, not transferred). */
  readonly turns: SharedArrayBuffer;
  /** The batch's place in the message's order of batches, from 0. */
  readonly index: number;
}

/** The counter's value once writing has stopped: no batch may write. */
const STOPPED = -1;

/**
 * The order in which batches are written, over shared memory: the index of the
 * next batch to write, or STOPPED. A worker waits for its batch's turn before
 * writing; jobs are handed out in order, and each worker takes its own in
 * order, so the batch whose turn it is is always at the head of some worker.
 */
export class WriteTurns {
  private readonly next: Int32Array;

  constructor(readonly memory: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.next = new Int32Array(memory);
  }

  /** Blocks until it is batch `index`'s turn (true) or writing has stopped (false). */
  await(index: number): boolean {
    for (;;) {
      const next = Atomics.load(this.next, 0);
      if (next === index) return true;
      if (next === STOPPED) return false;
      Atomics.wait(this.next, 0, next);
    }
  }

  /** Batch `index` is written: the next one's turn, unless writing stopped meanwhile. */
  pass(index: number): void {
    Atomics.compareExchange(this.next, 0, index, index + 1);
    Atomics.notify(this.next, 0);
  }

  /** No batch writes from now on (a frame that did not authenticate, a failed write, a run given up). */
  stop(): void {
    Atomics.store(this.next, 0, STOPPED);
    Atomics.notify(this.next, 0);
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `buffers` to `fd` with blocking writev(2) calls, continuing
 * short writes. A descriptor someone left non-blocking answers EAGAIN when
 * full: then this waits a millisecond and tries again, slow but never spinning.
 * Returns the bytes written; throws the system error of a failed write.
 */
export function writeFully(fd: number, buffers: readonly Uint8Array[]): number {
  let pending = buffers.filter((b) => b.length > 0);
  let total = 0;
  while (pending.length > 0) {
    let written: number;
    try {
      written = writevSync(fd, pending);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1);
      continue;
    }
    total += written;
    pending = unwritten(pending, written);
  }
  return total;
}

/** What of `buffers` a write of `written` bytes left to write: a short write continues with it. */
export function unwritten(buffers: readonly Uint8Array[], written: number): Uint8Array[] {
  let i = 0;
  while (i < buffers.length && written >= buffers[i]!.length) written -= buffers[i++]!.length;
  const rest = buffers.slice(i);
  if (written > 0) rest[0] = rest[0]!.subarray(written);
  return rest;
}

/**
 * Takes a batch's answer on this thread when its worker wrote it: counts what
 * was written, or throws the write's system error (the caller names the output).
 */
export function acceptWritten(r: FrameResult, direct: DirectOutput): void {
  if (r.length > 0) direct.wrote(r.length);
  throwWriteError(r);
}

/** Throws the system error of an answer whose write failed, or for one not written as writing had stopped. */
export function throwWriteError(r: FrameResult): void {
  if (r.writeError) throw revived(r.writeError);
  // Only after a batch before it failed, which was reported first.
  if (r.unwritten) throw new Error('a batch of frames was not written: writing had stopped');
}
