// Entry point of a worker thread that seals and opens batches of frames (see
// frame-pool.ts for who starts it, frame-batch.ts for the work), or seals or
// opens its share of a ring (ring-sealer.ts, ring-opener.ts), or is a ring's
// reader (reader-thread.ts).
// Bundled as a file of its own (scripts/build.mjs), or inlined as source for
// the single executable (scripts/build-binary.mjs).

import { parentPort } from 'node:worker_threads';
import { WriteTurns } from './direct-output.js';
import { type FrameJob, type FrameResult, openBatch, sealBatch, transferable } from './frame-batch.js';
import { CopySink, DirectSink, type Outcome } from './frame-sinks.js';
import { fillRing, InputRing, type ReadJob } from './input-ring.js';
import { openRing, type RingOpenJob } from './ring-opener.js';
import { type RingSealJob, sealRing } from './ring-sealer.js';

const port = parentPort;
if (!port) throw new Error('frame-worker runs only as a worker thread');

port.on('message', (job: FrameJob | RingSealJob | RingOpenJob | ReadJob) => {
  // A reader thread: this one job, for the rest of the message.
  if (job.kind === 'read') {
    port.postMessage(fillRing(job) ?? { stopped: true });
    return;
  }
  if (job.kind === 'seal-ring' || job.kind === 'open-ring') {
    let outcome: Outcome;
    try {
      const progress = (bytes: number) => port.postMessage({ id: job.id, progress: bytes });
      outcome = job.kind === 'seal-ring' ? sealRing(job, progress) : openRing(job, progress);
    } catch (e) {
      new InputRing(job.ring).stop();
      new WriteTurns(job.turns).stop();
      outcome = { length: 0, error: e instanceof Error ? e.message : String(e) };
    } finally {
      new Uint8Array(job.key).fill(0);
    }
    port.postMessage({ id: job.id, ...outcome });
    return;
  }
  let outcome: Outcome;
  try {
    const sink = job.direct ? new DirectSink(job.direct) : new CopySink(job.output!);
    const failedSequence = job.kind === 'seal' ? (sealBatch(job, sink), undefined) : openBatch(job, sink);
    outcome = { ...sink.finish(failedSequence !== undefined), ...(failedSequence === undefined ? {} : { failedSequence }) };
  } catch (e) {
    // A bug or out of memory: the batches after this one must not be written either.
    if (job.direct) new WriteTurns(job.direct.turns).stop();
    outcome = { length: 0, error: e instanceof Error ? e.message : String(e) };
  } finally {
    new Uint8Array(job.key).fill(0);
  }
  const answer: FrameResult = { id: job.id, input: job.input, ...(job.output ? { output: job.output } : {}), ...outcome };
  port.postMessage(answer, transferable(job.input, job.output));
});
