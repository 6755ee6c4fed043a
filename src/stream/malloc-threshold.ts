// Keeps glibc's malloc from giving the data path's memory back to the kernel
// after every frame, only to fault it in again for the next one.
//
// glibc serves a block of 128 KiB or more with mmap(2) until the first such
// block is freed; from then on its mmap threshold is that block's size, and a
// heap whose free top grows past twice the threshold is trimmed: those pages
// are returned (madvise MADV_DONTNEED) and the next allocation faults them in
// afresh (mallopt(3), M_MMAP_THRESHOLD, M_TRIM_THRESHOLD). Which block is
// freed first depends on what ran before and on how the threads interleave.
// When it was small, every 256 KiB frame that node:crypto allocated and
// free-memory.ts freed came and went at the top of a worker's heap and was
// trimmed: encrypting 1 GiB through pipes took 6-8 s against 1.5-1.9 s, with
// 240-300k page faults against 12k and 1100 madvise calls against 160
// (measured, 2026-12-06; which builds hit it was a matter of their layout).
//
// Freeing one block of THRESHOLD_BLOCK bytes first sets the threshold there,
// so that the data path's buffers (frames, batches, reads: a few MiB at most)
// come from heaps that keep up to twice that free. Elsewhere than glibc, this
// is one allocation and one free.

import { isMainThread } from 'node:worker_threads';
import { freeMemory } from './free-memory.js';

/** Under glibc's cap on the dynamic threshold (32 MiB on 64-bit systems). */
const THRESHOLD_BLOCK = 16 * 1024 * 1024;

let settled = false;

/**
 * Sets malloc's mmap threshold, once per process, from the main thread before
 * the data path's threads start. Not from a worker: after the first time, a
 * block that size comes from a heap and calloc would write all of it.
 */
export function settleMallocThreshold(): void {
  if (settled || !isMainThread) return;
  settled = true;
  // An ArrayBuffer this large is calloc'd by mmap: never touched, no memory used.
  freeMemory(new Uint8Array(new ArrayBuffer(THRESHOLD_BLOCK)), { now: true });
}
