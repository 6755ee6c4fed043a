// Entry point of a worker thread that seals and opens batches of frames (see
// frame-pool.ts for who starts it, frame-batch.ts for the work). Bundled as a
// file of its own (scripts/build.mjs), or inlined as source for the single
// executable (scripts/build-binary.mjs).

import { parentPort } from 'node:worker_threads';
import { type Dispose, type FrameJob, type FrameResult, openBatch, sealBatch } from './frame-batch.js';
import { freeMemory } from './free-memory.js';

const port = parentPort;
if (!port) throw new Error('frame-worker runs only as a worker thread');

// Every frame's node:crypto output is a fresh 64 KiB buffer: once copied into
// the batch, it is freed at once (free-memory.ts says why).
const dispose: Dispose = freeMemory;

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
