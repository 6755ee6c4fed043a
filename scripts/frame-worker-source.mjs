// The frame worker (src/stream/frame-worker.ts) bundled into one CommonJS
// source text, which src/stream/frame-pool.ts can start with
// `new Worker(source, { eval: true })`: the single executable inlines it
// (build-binary.mjs), having no file beside it to start, and
// test/parallel.test.ts starts it that way too.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function frameWorkerSource() {
  const result = await build({
    absWorkingDir: fileURLToPath(new URL('..', import.meta.url)),
    entryPoints: ['src/stream/frame-worker.ts'],
    write: false,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    legalComments: 'none',
  });
  return result.outputFiles[0].text;
}
