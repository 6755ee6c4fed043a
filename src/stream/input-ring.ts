// A pipe read by a thread of its own, with blocking reads, into a ring of
// shared batch buffers that the workers take from as it fills, seal or open
// where the bytes lie, and write out themselves (ring-sealer.ts, ring-opener.ts).
//
// Why: on the event loop, every read of a pipe (64 KiB: all a Linux pipe holds)
// waits for a turn of the loop, and the writer at the other end waits with it;
// and every batch went through the main thread twice, sent out and answered.
// Measured on 2 cores, 1 GiB from `cat` to /dev/null, medians of 9: encrypt
// took 1.01 s that way against 0.87 s with this ring (age: 0.63 s; a bare
// reader and sealer without envelope's start, 0.85 s). Through `cat | … | cat`
// the gain was within this machine's noise. A thread blocked in read(2) is
// also why the process cannot exit before the writer writes again or closes:
// the same as `cat` in a pipeline. SIGINT and SIGTERM still end it at once
// (src/cli/main.ts).
//
// The ring, in shared memory (nothing is copied or transferred); "sealers" are
// the workers of ring-sealer.ts or of ring-opener.ts:
//
//   slots:   [ slot 0 ][ slot 1 ] ... [ slot n-1 ]      `slotBytes` each
//   control: Int32   FREED   slots done with, in order: slot i may be filled once i - FREED < n
//            Int32   STOP    1: reader and sealers stop at their next step
//            Int32   NEXT    the next slot a sealer takes
//            Int32   ROOM    bumped whenever a slot is freed, or on stop: the reader waits on it
//            Int32   DATA    bumped whenever READ passes the end of a slot, END is set, or on stop:
//                            the sealers wait on it; also whenever READ moves while EAGER is 1
//            Int32   EAGER   1: someone waits for every byte (the main thread reading a final frame,
//                            open-from-ring.ts), not just for whole slots
//            Int64   READ    bytes in the ring so far, counted from the start of slot 0
//            Int64   END     READ once the input has ended, -1 before
//
// A thread waits on a counter it read before it looked at what it waits for:
// whatever changes after that look changes the counter, so no wake-up is lost.
//
// Slot i holds the message's bytes [i * slotBytes, (i + 1) * slotBytes). It is
// complete once READ passes its end (and more follows, so its last frame is not
// the final one) or once END is known (it is then the last if END falls in it).

import { readSync } from 'node:fs';
import { release } from './buffer-pool.js';
import { type PostedError, postable } from './posted-error.js';

const FREED = 0;
const STOP = 1;
const NEXT = 2;
const ROOM = 3;
const DATA = 4;
const EAGER = 5;
const READ = 0;
const END = 1;
const CONTROL_BYTES = 40;

/** The ring's shared memory, as it travels to the reader and the sealers. */
export interface RingMemory {
  readonly slots: readonly SharedArrayBuffer[];
  readonly control: SharedArrayBuffer;
}

/** A view of the ring, the same on every thread. */
export class InputRing {
  readonly slots: readonly SharedArrayBuffer[];
  readonly slotBytes: number;
  private readonly counters: Int32Array;
  private readonly bytes: BigInt64Array;

  constructor(readonly memory: RingMemory) {
    this.slots = memory.slots;
    this.slotBytes = memory.slots[0]!.byteLength;
    this.counters = new Int32Array(memory.control, 0, 6);
    this.bytes = new BigInt64Array(memory.control, 24, 2);
  }

  /** A new ring of `count` slots of `slotBytes` bytes, nothing read yet. */
  static create(slotBytes: number, count: number): InputRing {
    const slots = Array.from({ length: count }, () => new SharedArrayBuffer(slotBytes));
    const ring = new InputRing({ slots, control: new SharedArrayBuffer(CONTROL_BYTES) });
    Atomics.store(ring.bytes, END, -1n);
    return ring;
  }

  /**
   * A new ring whose first slots hold `held` (bytes read before the reader
   * starts: they count as read), with `count` slots or, should `held` need
   * more, room for it and three more. Releases the held chunks (buffer-pool.ts).
   */
  static holding(slotBytes: number, count: number, held: readonly Uint8Array[]): InputRing {
    const heldBytes = held.reduce((sum, chunk) => sum + chunk.length, 0);
    const ring = InputRing.create(slotBytes, Math.max(count, Math.floor(heldBytes / slotBytes) + 3));
    let placed = 0;
    for (const chunk of held) {
      for (let at = 0; at < chunk.length; ) {
        const offset = placed % slotBytes;
        const n = Math.min(chunk.length - at, slotBytes - offset);
        new Uint8Array(ring.slot(Math.floor(placed / slotBytes))).set(chunk.subarray(at, at + n), offset);
        at += n;
        placed += n;
      }
      release(chunk);
    }
    ring.setRead(placed);
    return ring;
  }

  /** Slot number `index` (counted from 0 since the start: the ring wraps). */
  slot(index: number): SharedArrayBuffer {
    return this.slots[index % this.slots.length]!;
  }

  /** Bytes put in the ring before the reader starts: they count as read. */
  setRead(bytes: number): void {
    Atomics.store(this.bytes, READ, BigInt(bytes));
  }

  get stopped(): boolean {
    return Atomics.load(this.counters, STOP) === 1;
  }

  /** Reader and sealers stop at their next step, waking any that wait. */
  stop(): void {
    Atomics.store(this.counters, STOP, 1);
    this.bump(ROOM);
    this.bump(DATA);
  }

  private bump(counter: number): void {
    Atomics.add(this.counters, counter, 1);
    Atomics.notify(this.counters, counter);
  }

  /** Zeroes every slot: they held plaintext. */
  wipe(): void {
    for (const slot of this.slots) new Uint8Array(slot).fill(0);
  }

  // The reader's side.

  /** Waits until slot `index` may be filled; false if the ring stopped. */
  awaitFree(index: number): boolean {
    for (;;) {
      const room = Atomics.load(this.counters, ROOM);
      if (this.stopped) return false;
      if (index - Atomics.load(this.counters, FREED) < this.slots.length) return true;
      Atomics.wait(this.counters, ROOM, room);
    }
  }

  read(): number {
    return Number(Atomics.load(this.bytes, READ));
  }

  /**
   * `total` bytes are in the ring now. The sealers are woken only when a slot
   * is complete: a pipe gives 64 KiB a read, and waking a waiting sealer 16
   * times per slot for nothing cost up to a context switch per read (perf stat,
   * encrypting 1 GiB from `cat` to /dev/null: 25-35k switches that way, 17-18k
   * this way, as many as age).
   */
  advance(total: number): void {
    const before = this.read();
    Atomics.store(this.bytes, READ, BigInt(total));
    // Some slot end k * slotBytes with before <= k * slotBytes < total: READ has passed it (awaitSlot).
    const passesSlotEnd = Math.floor((total - 1) / this.slotBytes) >= Math.ceil(before / this.slotBytes);
    if (passesSlotEnd || Atomics.load(this.counters, EAGER) === 1) this.bump(DATA);
  }

  /** The input ended after `total` bytes. */
  end(total: number): void {
    Atomics.store(this.bytes, END, BigInt(total));
    this.bump(DATA);
  }

  // The main thread's side, reading what follows a message's last frame (open-from-ring.ts).

  /** Where the input ended, or -1 while it goes on. */
  ended(): number {
    return Number(Atomics.load(this.bytes, END));
  }

  /** From now on, DATA is bumped on every read, not only when a slot is complete. */
  wantEveryRead(): void {
    Atomics.store(this.counters, EAGER, 1);
  }

  /** The DATA counter, to be read before looking at READ, END or STOP (see awaitData). */
  dataVersion(): number {
    return Atomics.load(this.counters, DATA);
  }

  /** Resolves once DATA has moved on from `version`: more was read, the input ended, or the ring stopped. */
  async awaitData(version: number): Promise<void> {
    // Atomics.waitAsync: in Node since 16, in TypeScript's lib from ES2024.
    const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
    const waiting = waitAsync(this.counters, DATA, version);
    if (waiting.async) await waiting.value;
  }

  // A sealer's (or opener's) side.

  /** Takes the next slot to seal: its index. */
  take(): number {
    return Atomics.add(this.counters, NEXT, 1);
  }

  /**
   * Waits until slot `index` is complete: its length, and whether it ends the
   * message; undefined if the ring stopped or the message ended before it.
   */
  awaitSlot(index: number): { readonly length: number; readonly final: boolean } | undefined {
    const from = index * this.slotBytes;
    const to = from + this.slotBytes;
    for (;;) {
      const data = Atomics.load(this.counters, DATA);
      if (this.stopped) return undefined;
      const end = Number(Atomics.load(this.bytes, END));
      if (end >= 0) {
        // An empty message still has its (empty) final frame, in slot 0.
        if (end <= from && index > 0) return undefined;
        return end <= to ? { length: end - from, final: true } : { length: this.slotBytes, final: false };
      }
      if (Number(Atomics.load(this.bytes, READ)) > to) return { length: this.slotBytes, final: false };
      Atomics.wait(this.counters, DATA, data);
    }
  }

  /** Slot `index` is done with (called in slot order): the reader may fill it again. */
  free(index: number): void {
    Atomics.store(this.counters, FREED, index + 1);
    this.bump(ROOM);
  }
}

/** The reader's instructions, sent to the reader thread (reader-thread.ts). */
export interface ReadJob {
  readonly kind: 'read';
  readonly fd: number;
  readonly ring: RingMemory;
}

/** How the reader finished: the input ended, or a read failed (the ring is then stopped). */
export type ReadOutcome = { readonly end: true } | { readonly failed: PostedError };

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { readonly async: false; readonly value: string } | { readonly async: true; readonly value: Promise<string> };

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The reader thread's loop: fills the ring from `job.fd`, from where the bytes
 * put in before end, until the input ends, a read fails (which stops the ring)
 * or the ring is stopped. Returns undefined when stopped.
 */
export function fillRing(job: ReadJob): ReadOutcome | undefined {
  const ring = new InputRing(job.ring);
  let total = ring.read();
  for (;;) {
    const index = Math.floor(total / ring.slotBytes);
    const offset = total % ring.slotBytes;
    if (!ring.awaitFree(index)) return undefined;
    let n: number;
    try {
      n = readSync(job.fd, new Uint8Array(ring.slot(index)), offset, ring.slotBytes - offset, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // Someone made the descriptor non-blocking again: slow, but never spinning.
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      ring.stop();
      return { failed: postable(e) };
    }
    if (n === 0) {
      ring.end(total);
      return { end: true };
    }
    total += n;
    ring.advance(total);
  }
}
