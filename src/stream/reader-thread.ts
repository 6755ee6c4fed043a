// The thread that reads a handed-over pipe into an InputRing (input-ring.ts):
// a worker started from the frame worker's source (frame-worker.ts runs its
// loop), one per message, started beside the frame pool so that its start-up
// costs no extra wait.

import { Worker } from 'node:worker_threads';
import type { InputRing, ReadJob, ReadOutcome } from './input-ring.js';
import { settleMallocThreshold } from './free-memory.js';
import type { WorkerLocation } from './parallel.js';
import { revived } from './posted-error.js';

export class ReaderThread {
  private outcome: ReadOutcome | { readonly stopped: true } | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private ring: InputRing | undefined;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (outcome: ReadOutcome | { readonly stopped: true }) => {
      this.outcome = outcome;
      worker.unref();
      this.wake?.();
    });
    worker.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => this.fail(new Error(`the reader thread exited with code ${code}`)));
  }

  /** Starts the thread; resolves once it runs, or to undefined if it cannot start. */
  static start(location: WorkerLocation): Promise<ReaderThread | undefined> {
    settleMallocThreshold();
    return new Promise((resolve) => {
      let worker: Worker;
      try {
        worker = new Worker(location.source, { eval: true, name: 'envelope-reader', resourceLimits: { maxYoungGenerationSizeMb: 2 } });
      } catch {
        resolve(undefined);
        return;
      }
      const thread = new ReaderThread(worker);
      // After the listeners: a Worker's first 'message' listener ref()s it again.
      worker.unref();
      worker.once('online', () => resolve(thread));
      worker.once('error', () => resolve(undefined));
      worker.once('exit', () => resolve(undefined));
    });
  }

  /** Starts reading `fd` into `ring`, after the bytes already in it (InputRing.setRead). */
  read(fd: number, ring: InputRing): void {
    this.ring = ring;
    // Died before it was given the ring: nothing will fill it, so no worker may wait on it.
    if (this.failure) ring.stop();
    const job: ReadJob = { kind: 'read', fd, ring: ring.memory };
    this.worker.ref();
    this.worker.postMessage(job);
  }

  /**
   * Resolves once the reader has read to the end of the input; throws the
   * system error of a failed read, as `failure` (HandedOver.failure) names the
   * input, or, should the reader have been stopped or died first, says so.
   */
  async finished(failure: (error: unknown) => Error): Promise<void> {
    while (!this.outcome && !this.failure) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    if (this.outcome && 'failed' in this.outcome) {
      throw failure(revived(this.outcome.failed));
    }
    if (!this.outcome) throw failure(this.failure);
    if (!('end' in this.outcome)) throw failure(new Error('the reader thread stopped before the end of the input'));
  }

  /**
   * Stops the reader and lets the thread go. One blocked in read(2) on a pipe
   * whose writer is idle stays there until the writer writes or closes, and
   * holds the process's exit until then, as `cat` would.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring?.stop();
    this.worker.removeAllListeners('exit');
    this.worker.unref();
    void this.worker.terminate();
  }

  /** The thread died (a bug, out of memory): the sealers must not wait for what it would have read. */
  private fail(error: Error): void {
    this.failure ??= error;
    this.ring?.stop();
    this.wake?.();
  }
}
