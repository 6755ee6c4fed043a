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
// which builds and runs hit it was luck; frames of --frame-size 4M hit it in
// every run, 9.9 s and 526k faults). So before worker threads start, and
// before a thread frees its first frame, one block well above the size of the
// frames is freed (settleMallocThreshold), which sets the threshold there.
// Elsewhere than glibc, that is one allocation and one free.

type Transfer = (this: ArrayBuffer, length?: number) => ArrayBuffer;

let transfer: Transfer | null | undefined;

/**
 * Bytes of buffers left to the collector before freeMemory starts to free:
 * a few MiB of garbage cost nothing, and a small run (a 1 KiB secret) then
 * never pays for the first detach, which on Node 20 creates a context (~2 ms).
 */
export const LEFT_TO_THE_COLLECTOR = 4 * 1024 * 1024;
let leftSoFar = 0;

/**
 * The block freed to set the threshold: four times the buffers being freed,
 * at least 2 MiB (256 KiB frames: RSS as before, 85-90 MiB through pipes; a
 * 16 MiB block kept 2-4 MiB more in the heaps, which took the single
 * executable past 100 MiB) and at most glibc's cap on the dynamic threshold
 * (32 MiB on 64-bit systems).
 */
const MIN_THRESHOLD_BLOCK = 2 * 1024 * 1024;
const MAX_THRESHOLD_BLOCK = 32 * 1024 * 1024;
/** The largest block freed so far to set the threshold (0: none). */
let settledAt = 0;

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
  settleMallocThreshold(buffer.byteLength);
  detach(buffer.buffer as ArrayBuffer);
}

/**
 * Sets malloc's mmap threshold (see above) for buffers of `bytes` being freed:
 * before the first frame is freed and before worker threads start, and again
 * for larger buffers (frames of --frame-size 4M). The threshold is the
 * process's, so once is enough; a thread that does it again costs one
 * allocation and one free.
 */
export function settleMallocThreshold(bytes = 0): void {
  const block = Math.min(MAX_THRESHOLD_BLOCK, Math.max(MIN_THRESHOLD_BLOCK, 4 * bytes));
  if (block <= settledAt) return;
  settledAt = block;
  // Not zero-filled: whether malloc maps it or takes it from a heap, its pages are never touched.
  detach(Buffer.allocUnsafeSlow(block).buffer as ArrayBuffer);
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
