// Entry point of a worker thread that seals and opens batches of frames (see
// frame-pool.ts for who starts it, frame-batch.ts for the work). Bundled as a
// file of its own (scripts/build.mjs), or inlined as source for the single
// executable (scripts/build-binary.mjs).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { type Dispose, type FrameJob, type FrameResult, openBatch, sealBatch } from './frame-batch.js';

const port = parentPort;
if (!port) throw new Error('frame-worker runs only as a worker thread');

// Every frame's node:crypto output is a fresh 64 KiB buffer. Left to the
// garbage collector, ~32 MiB of them pile up per thread (buffer-pool.ts says
// why); detaching one with ArrayBuffer.prototype.transfer(0) frees its memory
// at once, and the allocator hands the same block to the next frame.
const dispose: Dispose = (() => {
  const transfer = freeingTransfer();
  if (!transfer) return () => undefined; // left to the collector
  return (b) => {
    // Only a buffer that owns its whole ArrayBuffer (never a slice of Node's shared pool).
    if (b.byteOffset === 0 && b.buffer.byteLength === b.byteLength && b.byteLength > 0) transfer.call(b.buffer as ArrayBuffer, 0);
  };
})();

/**
 * ArrayBuffer.prototype.transfer: Node 22+ has it. Node 20 has it behind a V8
 * flag that is read when a context is created, so: turn the flag on, create
 * a context and take its transfer (a builtin, it works on this context's
 * buffers too), and turn the flag off again at once. Doing it here, in the
 * worker, matters: a worker started while the flag differs from the process's
 * start-up flags cannot use Node's start-up snapshot (measured: +30 ms).
 */
function freeingTransfer(): ((this: ArrayBuffer, length?: number) => ArrayBuffer) | undefined {
  type Transfer = (this: ArrayBuffer, length?: number) => ArrayBuffer;
  const native = (ArrayBuffer.prototype as { transfer?: Transfer }).transfer;
  if (native) return native;
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

port.on('message', (job: FrameJob) => {
  let result: Omit<FrameResult, 'id' | 'input' | 'output'>;
  try {
    result = job.kind === 'seal' ? { length: sealBatch(job, dispose) } : openBatch(job, dispose);
  } catch (e) {
    result = { length: 0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    new Uint8Array(job.key).fill(0);
  }
  const answer: FrameResult = { id: job.id, input: job.input, output: job.output, ...result };
  port.postMessage(answer, [job.input, job.output]);
});
