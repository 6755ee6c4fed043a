// Frees the memory of a buffer that nothing will read again, at once rather
// than at the next garbage collection: node:crypto returns every frame as a
// fresh buffer, and V8 collects dead buffers only once ~32 MiB of them have
// piled up (buffer-pool.ts says why), so a large run would otherwise carry
// that much garbage. Detaching the buffer's ArrayBuffer with transfer(0)
// gives its memory back to the allocator, which hands it to the next frame.
//
// So long as the allocator keeps it. glibc serves a block of 128 KiB or more
// with mmap(2) until the first such block is freed; from then on its mmap
// threshold is that block's size, and a heap whose free top grows past twice
// the threshold is trimmed: those pages go back to the kernel (madvise
// MADV_DONTNEED) and the next allocation faults them in afresh (mallopt(3),
// M_MMAP_THRESHOLD, M_TRIM_THRESHOLD). Which block is freed first depends on
// what ran before. When it was small, every 256 KiB frame came and went at
// the top of its thread's heap and was trimmed: 1 GiB through pipes took 6-8 s
// against 1.5-1.9 s to encrypt on worker threads, 5.6 s against 1.8 s to
// decrypt on one, with 190-300k page faults against 12k (measured, 2026-12-06;
// which builds and runs hit it was luck). So before the first frame is freed,
// and before worker threads start, the main thread frees one block of
// THRESHOLD_BLOCK bytes, which sets the threshold above every buffer of the
// data path (frames, batches, reads: a few MiB at most). Elsewhere than glibc,
// that is one allocation and one free.

type Transfer = (this: ArrayBuffer, length?: number) => ArrayBuffer;

let transfer: Transfer | null | undefined;

/**
 * Bytes of buffers left to the collector before freeMemory starts to free:
 * a few MiB of garbage cost nothing, and a small run (a 1 KiB secret) then
 * never pays for the first detach, which on Node 20 creates a context (~2 ms).
 */
export const LEFT_TO_THE_COLLECTOR = 4 * 1024 * 1024;
let leftSoFar = 0;

/** Under glibc's cap on the dynamic threshold (32 MiB on 64-bit systems). */
const THRESHOLD_BLOCK = 16 * 1024 * 1024;
let settled = false;

/** Whether `buffer` is all of its ArrayBuffer: not a part of one that others may hold views of. */
export function spansItsMemory(buffer: Uint8Array): boolean {
  return buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
}

/**
 * Detaches the ArrayBuffer behind `buffer`, if `buffer` spans all of it (never
 * a slice of Node's shared pool); afterwards every view of it is empty. Does
 * nothing where this Node cannot detach, or for the first few MiB of a run
 * (the collector then frees it).
 */
export function freeMemory(buffer: Uint8Array): void {
  if (!spansItsMemory(buffer) || buffer.byteLength === 0) return;
  if (leftSoFar < LEFT_TO_THE_COLLECTOR) {
    leftSoFar += buffer.byteLength;
    return;
  }
  settleMallocThreshold();
  detach(buffer.buffer as ArrayBuffer);
}

/**
 * Sets malloc's mmap threshold (see above), once per process, from the main
 * thread: before the first frame is freed, and before worker threads start.
 * Never from a worker: after the first time, a block that size would come from
 * a heap, and calloc would write all of it.
 */
export function settleMallocThreshold(): void {
  if (settled) return;
  settled = true;
  // Looked up here, not imported: node:worker_threads is not loaded at start-up.
  if (!process.getBuiltinModule('node:worker_threads').isMainThread) return;
  // An ArrayBuffer this large is calloc'd by mmap: never touched, no memory used.
  detach(new ArrayBuffer(THRESHOLD_BLOCK));
}

function detach(memory: ArrayBuffer): void {
  transfer ??= freeingTransfer() ?? null;
  transfer?.call(memory, 0);
}

/**
 * ArrayBuffer.prototype.transfer: Node 22+ has it. Node 20 has it behind a V8
 * flag that is read when a context is created, so: turn the flag on, create a
 * context and take its transfer (a builtin, it works on this context's buffers
 * too), and turn the flag off again at once, before anything else runs. (A
 * worker started while the flag differs from the process's start-up flags
 * could not use Node's start-up snapshot: +30 ms, measured.)
 */
function freeingTransfer(): Transfer | undefined {
  const native = (ArrayBuffer.prototype as { transfer?: Transfer }).transfer;
  if (native) return native;
  // Loaded here, not imported: only Node 20 comes here, and node:v8 is ~2 ms of start-up.
  const { setFlagsFromString } = process.getBuiltinModule('node:v8');
  const { runInNewContext } = process.getBuiltinModule('node:vm');
  try {
    setFlagsFromString('--harmony-rab-gsab-transfer');
    const borrowed: unknown = runInNewContext('ArrayBuffer.prototype.transfer');
    return typeof borrowed === 'function' ? (borrowed as Transfer) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-harmony-rab-gsab-transfer');
  }
}
