// The frame worker (src/stream/frame-worker.ts) bundled into one CommonJS
// source text, which src/stream/frame-pool.ts can start with
// `new Worker(source, { eval: true })`: the single executable inlines it
// (build-binary.mjs), having no file beside it to start, and
// test/parallel.test.ts starts it that way too.
import { build } from 'esbuild';
import { CJS_FOR_NODE } from './esbuild-options.mjs';

export async function frameWorkerSource() {
  const result = await build({ ...CJS_FOR_NODE, entryPoints: ['src/stream/frame-worker.ts'], write: false });
  return result.outputFiles[0].text;
}
