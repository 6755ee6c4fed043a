// Entry point of a worker thread that seals and opens batches of frames (see
// frame-pool.ts for who starts it, frame-batch.ts for the work). Bundled as a
// file of its own (scripts/build.mjs), or inlined as source for the single
// executable (scripts/build-binary.mjs).

import { parentPort } from 'node:worker_threads';
import { type FrameJob, type FrameResult, openBatch, sealBatch } from './frame-batch.js';
import { freeMemory } from './free-memory.js';

const port = parentPort;
if (!port) throw new Error('frame-worker runs only as a worker thread');

port.on('message', (job: FrameJob) => {
  let result: Omit<FrameResult, 'id' | 'input' | 'output'>;
  try {
    // Every frame's node:crypto output is freed once copied into the batch (free-memory.ts says why).
    result = job.kind === 'seal' ? { length: sealBatch(job, freeMemory) } : openBatch(job, freeMemory);
  } catch (e) {
    result = { length: 0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    new Uint8Array(job.key).fill(0);
  }
  const answer: FrameResult = { id: job.id, input: job.input, output: job.output, ...result };
  port.postMessage(answer, [job.input, job.output]);
});
