// The worker threads that seal and open batches of frames (frame-worker.ts),
// started on first need and shared by every message of the process. Loaded
// with import() only once an input is large enough (parallel.ts), so small
// messages never load it.
//
// A worker holds the process open only while it has a job: idle workers are
// unref()'d, so a finished or abandoned run exits at once.

import { Worker } from 'node:worker_threads';
import { type FrameJob, type FrameResult, transferable } from './frame-batch.js';
import type { RingOpenJob } from './ring-opener.js';
import type { RingSealJob } from './ring-sealer.js';
import { settleMallocThreshold } from './free-memory.js';
import type { WorkerLocation } from './parallel.js';

interface Slot {
  readonly worker: Worker;
  /** Jobs sent and not yet answered. */
  busy: number;
}

interface Waiter {
  readonly slot: Slot;
  readonly resolve: (result: FrameResult) => void;
  readonly reject: (error: Error) => void;
  readonly progress?: (bytes: number) => void;
}

/** What a worker says before its answer: a ring's sealer or opener wrote `progress` more bytes (ring-sealer.ts). */
interface Progress {
  readonly id: number;
  readonly progress: number;
}

/**
 * A worker's young generation, in MiB. Its garbage is a few small objects per
 * frame, which a young generation of 2 MiB holds; left to grow (to 16 MiB per
 * semi-space) it costs ~5 MiB of RSS per worker for nothing (measured).
 */
const WORKER_YOUNG_GENERATION_MB = 2;

export class FramePool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private nextSlot = 0;
  private online = 0;
  private readonly settled: Promise<void>;
  private settle!: () => void;
  /** All workers are running: jobs are answered without a start-up wait. */
  ready = false;
  /** Set when a worker failed or exited: the pool takes no more jobs. */
  failure: Error | undefined;
  /** Jobs answered so far. */
  answered = 0;

  constructor(readonly workers: number, location: WorkerLocation) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
    settleMallocThreshold();
    const options = { name: 'envelope-frames', resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } };
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(location.source, { ...options, eval: true });
      const slot: Slot = { worker, busy: 0 };
      worker.on('online', () => {
        if (++this.online === workers && !this.failure) {
          this.ready = true;
          this.settle();
        }
      });
      worker.on('message', (result: FrameResult | Progress) => this.answer(slot, result));
      worker.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
      worker.on('exit', (code) => this.fail(new Error(`a frame worker exited with code ${code}`)));
      // After the listeners: a Worker's first 'message' listener ref()s it again.
      worker.unref();
      this.slots.push(slot);
    }
  }

  /** No job is in flight: every worker is unref()'d and lets the process exit. */
  get idle(): boolean {
    return this.waiting.size === 0;
  }

  /** Resolves once every worker runs, or the pool failed (then `ready` stays false). */
  whenSettled(): Promise<void> {
    return this.settled;
  }

  /**
   * Sends a job to the least busy worker (taking turns among equals); its
   * buffers are transferred, not copied. `progress` hears what a ring's sealer or opener writes as it goes.
   */
  run(job: FrameJob | RingSealJob | RingOpenJob, progress?: (bytes: number) => void): Promise<FrameResult> {
    if (this.failure) return Promise.reject(this.failure);
    let slot = this.slots[this.nextSlot]!;
    for (let i = 1; i < this.slots.length; i++) {
      const other = this.slots[(this.nextSlot + i) % this.slots.length]!;
      if (other.busy < slot.busy) slot = other;
    }
    this.nextSlot = (this.slots.indexOf(slot) + 1) % this.slots.length;
    return new Promise<FrameResult>((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { slot, resolve, reject, ...(progress ? { progress } : {}) });
      if (slot.busy++ === 0) slot.worker.ref();
      // A ring is shared memory: only the key travels by transfer.
      const buffers = job.kind === 'seal-ring' || job.kind === 'open-ring' ? [job.key] : transferable(job.key, job.input, job.output);
      slot.worker.postMessage({ ...job, id }, buffers);
    });
  }

  private answer(slot: Slot, result: FrameResult | Progress): void {
    const waiter = this.waiting.get(result.id);
    if (!waiter) return;
    if ('progress' in result) {
      waiter.progress?.(result.progress);
      return;
    }
    this.waiting.delete(result.id);
    this.answered++;
    if (--slot.busy === 0) slot.worker.unref();
    if (result.error !== undefined) waiter.reject(new Error(`frame worker: ${result.error}`));
    else waiter.resolve(result);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.ready = false;
    this.settle();
    if (shared === this) shared = undefined;
    for (const { reject } of this.waiting.values()) reject(error);
    this.waiting.clear();
    for (const slot of this.slots) void slot.worker.terminate();
  }

  /** Stops every worker, failing any job in flight (tests; the process does not need it to exit). */
  async close(): Promise<void> {
    this.fail(new Error('the frame pool is closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

let shared: FramePool | undefined;

/** The pool running in this process, if any was started. */
export function runningFramePool(): FramePool | undefined {
  return shared;
}

/** The process's pool of `workers` workers, started now if it is not running. */
export function framePool(workers: number, location: WorkerLocation): FramePool {
  if (shared && shared.workers === workers && !shared.failure) return shared;
  void shared?.close();
  shared = new FramePool(workers, location);
  return shared;
}
