// Worker threads being started while this thread goes on sealing or opening
// frames alone (seal.ts, open.ts): a worker takes ~35-60 ms to start on the
// bench's 2 cores, and a message that waited for them stood still that long.
// The caller asks take() at each frame and switches to the workers once
// they run; a message that ends first never uses them.

import type { FramePool } from './frame-pool.js';
import { startFramePool, startReaderThread, type ParallelOptions, type WorkerLocation } from './parallel.js';
import type { ReaderThread } from './reader-thread.js';

export interface StartedWorkers {
  readonly pool: FramePool;
  /** The thread that will read a handed-over pipe, if one was asked for and started. */
  readonly reader: ReaderThread | undefined;
}

export class WorkerStart {
  private outcome: StartedWorkers | 'failed' | undefined;
  private taken = false;
  private readonly starting: Promise<void>;

  constructor(parallel: ParallelOptions, location: WorkerLocation, withReader: boolean) {
    this.starting = Promise.all([startFramePool(parallel, location), withReader ? startReaderThread(location) : undefined]).then(
      ([pool, reader]) => {
        if (pool) this.outcome = { pool, reader };
        else {
          // Without a pool nothing would use the reader.
          reader?.close();
          this.outcome = 'failed';
        }
      },
    );
  }

  /** Resolves once the workers run or could not start (ParallelOptions.waitForWorkers). */
  settled(): Promise<void> {
    return this.starting;
  }

  /**
   * The workers, once they run (then this start is the caller's to close); undefined
   * while they start, and for good if they could not (the caller carries on alone).
   */
  take(): StartedWorkers | undefined {
    if (this.taken || this.outcome === undefined || this.outcome === 'failed') return undefined;
    this.taken = true;
    return this.outcome;
  }

  /**
   * Lets go what was started and not taken: the reader thread, now or once it
   * runs. The pool is the process's (frame-pool.ts), and its idle workers do
   * not hold the process open.
   */
  discard(): void {
    if (this.taken) return;
    this.taken = true;
    void this.starting.then(() => {
      if (this.outcome !== undefined && this.outcome !== 'failed') this.outcome.reader?.close();
    });
  }
}
