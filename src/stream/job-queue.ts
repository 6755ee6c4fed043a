// Batches in flight, in the order they were sent: workers may finish them in
// any order, the message is written in this one.

import type { WriteTurns } from './direct-output.js';
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

  /**
   * For a run that stops early: hands each answer still to come to `each` (to
   * wipe and recycle its buffers). When the workers write to a descriptor
   * themselves (`turns`), writing stops, and this resolves only once every
   * answer has come: the caller must not close the descriptor under them.
   */
  async giveUp(each: (result: FrameResult) => void, turns?: WriteTurns): Promise<void> {
    turns?.stop();
    const answers = this.entries.splice(0).map(({ promise }) => promise.then(each, () => undefined));
    if (turns) await Promise.all(answers);
  }
}
