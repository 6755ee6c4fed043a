// Batches in flight, in the order they were sent: workers may finish them in
// any order, the message is written in this one.

import type { FrameResult } from './frame-batch.js';

interface Entry {
  readonly promise: Promise<FrameResult>;
  settled: boolean;
}

export class JobQueue {
  private readonly entries: Entry[] = [];

  push(promise: Promise<FrameResult>): void {
    const entry: Entry = { promise, settled: false };
    // Also marks a rejection as handled until its turn comes to be awaited.
    promise.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    this.entries.push(entry);
  }

  get length(): number {
    return this.entries.length;
  }

  /** The oldest batch has its answer: shift() will not wait. */
  get headSettled(): boolean {
    return this.entries[0]?.settled ?? false;
  }

  /** The oldest batch's answer. */
  shift(): Promise<FrameResult> {
    const entry = this.entries.shift();
    if (!entry) throw new Error('no batch in flight');
    return entry.promise;
  }

  /** For a run that stops early: hands each answer still to come to `each` (to wipe and recycle its buffers). */
  abandon(each: (result: FrameResult) => void): void {
    for (const { promise } of this.entries.splice(0)) promise.then(each, () => undefined);
  }
}
