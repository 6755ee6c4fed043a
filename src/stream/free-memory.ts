// Frees the memory of a buffer that nothing will read again, at once rather
// than at the next garbage collection: node:crypto returns every frame as a
// fresh buffer, and V8 collects dead buffers only once ~32 MiB of them have
// piled up (buffer-pool.ts says why), so a large run would otherwise carry
// that much garbage. Detaching the buffer's ArrayBuffer with transfer(0)
// gives its memory back to the allocator, which hands it to the next frame.


type Transfer = (this: ArrayBuffer, length?: number) => ArrayBuffer;

let transfer: Transfer | null | undefined;

/**
 * Bytes of buffers left to the collector before freeMemory starts to free:
 * a few MiB of garbage cost nothing, and a small run (a 1 KiB secret) then
 * never pays for the first detach, which on Node 20 creates a context (~2 ms).
 */
export const LEFT_TO_THE_COLLECTOR = 4 * 1024 * 1024;
let leftSoFar = 0;

/** Whether `buffer` is all of its ArrayBuffer: not a part of one that others may hold views of. */
export function spansItsMemory(buffer: Uint8Array): boolean {
  return buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
}

/**
 * Detaches the ArrayBuffer behind `buffer`, if `buffer` spans all of it (never
 * a slice of Node's shared pool); afterwards every view of it is empty. Does
 * nothing where this Node cannot detach, or for the first few MiB of a run
 * unless `now` (the collector then frees it).
 */
export function freeMemory(buffer: Uint8Array, options: { now?: boolean } = {}): void {
  if (!spansItsMemory(buffer) || buffer.byteLength === 0) return;
  if (!options.now && leftSoFar < LEFT_TO_THE_COLLECTOR) {
    leftSoFar += buffer.byteLength;
    return;
  }
  transfer ??= freeingTransfer() ?? null;
  transfer?.call(buffer.buffer as ArrayBuffer, 0);
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
