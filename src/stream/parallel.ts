// When framed encryption and decryption hand their frames to worker threads
// (DESIGN §8, issue #6): only for inputs large enough to repay starting the
// workers, only with frames small enough to batch, and only where a worker
// script exists to start.

import { availableParallelism } from 'node:os';
import { FRAME_OVERHEAD } from './frame-batch.js';
import type { FramePool } from './frame-pool.js';
import type { ReaderThread } from './reader-thread.js';

/**
 * The worker's whole source, put in by the builds (scripts/build.mjs and
 * build-binary.mjs, from frame-worker-source.mjs): the single executable has no
 * files beside it, and one way of starting workers serves both.
 */
declare const ENVELOPE_FRAME_WORKER_SOURCE: string | undefined;

export interface ParallelOptions {
  /**
   * Threads at work on a message: this one (reading, writing, hashing for
   * signed suites) and threads - 1 workers sealing or opening frames. 1 is
   * this thread alone.
   */
  readonly threads: number;
  /**
   * Bytes that must go by on this thread before workers are started (plaintext
   * when sealing, message bytes when opening): a small message never pays for them.
   */
  readonly threshold: number;
  /**
   * Wait for the workers once they are started, rather than go on alone until
   * they run (worker-start.ts): they then take over at the first frame past
   * the threshold (tests, which check what the workers did).
   */
  readonly waitForWorkers?: boolean;
  /** Where the worker comes from; the bundle's own when not given. */
  readonly worker?: WorkerLocation;
}

/**
 * Chosen by measurement (2 cores, bench/run.mjs and by hand): a worker takes
 * ~35 ms to start, and then saves ~0.6 ms per MiB; inputs from 8 to 128 MiB
 * broke even between 32 and 64 MiB when this thread waited for them to
 * start. Below 16 MiB nothing is started; above it a run is at worst ~35 ms
 * slower (inputs up to ~75 MiB) and the single-thread part leaves at most 16
 * MiB of dead buffers behind (peak RSS, 1 GiB: 84-88 MiB at 16 MiB, 86-90 at
 * 32). This thread now goes on while they start (worker-start.ts).
 */
export const PARALLEL_THRESHOLD = 16 * 1024 * 1024;

/** About this much plaintext per batch: enough that one message per batch costs nothing, little enough to stay flat. */
const BATCH_BYTES = 1024 * 1024;
/** Batches in flight per worker: one being worked on, one waiting its turn. */
export const IN_FLIGHT_PER_WORKER = 2;

/** Frames per batch; tiny frames are bounded by their overhead (a sequence number, an IV and a tag each). */
export function framesPerBatch(frameLength: number): number {
  return Math.max(1, Math.floor(BATCH_BYTES / Math.max(frameLength, FRAME_OVERHEAD)));
}

/** Frames longer than this stay on one thread: a batch of even one would hold too much memory in flight. */
export const MAX_PARALLEL_FRAME_LENGTH = 1024 * 1024;

/**
 * The default: ENVELOPE_THREADS (1 forces the single-thread path, as the bench
 * does to compare) or else one thread per core.
 */
export function defaultParallelOptions(env: NodeJS.ProcessEnv = process.env): ParallelOptions {
  const configured = Number(env.ENVELOPE_THREADS);
  const threads = Number.isInteger(configured) && configured >= 1 ? Math.min(configured, 64) : availableParallelism();
  return { threads, threshold: PARALLEL_THRESHOLD };
}

/** Whether workers may be started for frames of this length. */
export function canRunInParallel(options: ParallelOptions, frameLength: number): boolean {
  return options.threads >= 2 && frameLength <= MAX_PARALLEL_FRAME_LENGTH && workerLocation(options) !== undefined;
}

export interface WorkerLocation {
  /** The worker's bundled CommonJS source, started with `eval`. */
  readonly source: string;
}

/**
 * Where the worker comes from: the option, else what the build put in. Code
 * run from src/ (the tests) has no bundle, so no worker unless given one.
 */
export function workerLocation(options: ParallelOptions): WorkerLocation | undefined {
  if (options.worker) return options.worker;
  if (typeof ENVELOPE_FRAME_WORKER_SOURCE === 'string') return { source: ENVELOPE_FRAME_WORKER_SOURCE };
  return undefined;
}

/**
 * Loads the pool module (a chunk of its own, so small inputs never load it)
 * and starts the workers, or finds them running; resolves once they run, or
 * to undefined if they cannot (the caller then carries on alone).
 */
export async function startFramePool(options: ParallelOptions, location: WorkerLocation): Promise<FramePool | undefined> {
  try {
    const { framePool } = await import('./frame-pool.js');
    const pool = framePool(options.threads - 1, location);
    await pool.whenSettled();
    return pool.ready ? pool : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Loads the reader thread's module (as startFramePool does the pool's) and
 * starts one; resolves once it runs, or to undefined if it cannot start (the
 * input is then read on this thread).
 */
export async function startReaderThread(location: WorkerLocation): Promise<ReaderThread | undefined> {
  try {
    const { ReaderThread } = await import('./reader-thread.js');
    return await ReaderThread.start(location);
  } catch {
    return undefined;
  }
}
